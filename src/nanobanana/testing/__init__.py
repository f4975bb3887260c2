"""Test with no network and no key: an emulator of the Gemini image API on loopback.

Example:
    >>> from nanobanana.testing import FakeGemini, Fault
    >>> with FakeGemini() as server:
    ...     server.push(Fault.unavailable())          # the next request gets a 503
    ...     nb = NanoBanana(api_key="test", base_url=server.url)

With pytest, the ``fake_gemini`` fixture gives a running emulator, reset for each test, and
``fake_nanobanana`` a `NanoBanana` client on it whose retries do not wait.

Names load on first use, so importing this package (or its pytest plugin, or the CLI's
parser) costs nothing until the emulator is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._faults import Fault, ManualClock
    from ._photos import sample_photo
    from ._server import FakeGemini, RecordedRequest

__all__ = ["FakeGemini", "Fault", "ManualClock", "RecordedRequest", "sample_photo"]

_HOMES = {
    "FakeGemini": "._server",
    "RecordedRequest": "._server",
    "Fault": "._faults",
    "ManualClock": "._faults",
    "sample_photo": "._photos",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
