"""Test with no network and no key: an emulator of the Gemini image API on loopback.

Example:
    >>> from nanobanana.testing import FakeGemini, Fault
    >>> with FakeGemini() as server:
    ...     server.push(Fault.unavailable())          # the next request gets a 503
    ...     nb = NanoBanana(api_key="test", base_url=server.url)

With pytest, the ``fake_gemini`` fixture gives a running emulator, reset for each test.
"""

from ._faults import Fault, ManualClock
from ._photos import sample_photo
from ._server import FakeGemini, RecordedRequest

__all__ = ["FakeGemini", "Fault", "ManualClock", "RecordedRequest", "sample_photo"]
