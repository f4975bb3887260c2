"""pytest plugin (entry point ``pytest11``): the ``fake_gemini`` and ``fake_nanobanana`` fixtures.

One emulator serves the whole run; each test gets it reset (no faults, files, batches or
recorded requests left over from another test). ``fake_nanobanana`` is a ready `NanoBanana`
client on it whose retries wait on a `ManualClock`, not the wall clock: a test of how an app
survives ``Fault.unavailable()`` or a 17 s ``retryDelay`` takes milliseconds. Nothing heavy is
imported until a test asks for a fixture, so installing nanobanana costs other test suites
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from nanobanana import NanoBanana

    from ._faults import ManualClock
    from ._server import FakeGemini


@pytest.fixture(scope="session")
def _fake_gemini_server() -> Iterator[FakeGemini]:
    from ._server import FakeGemini

    with FakeGemini() as server:
        yield server


@pytest.fixture
def fake_gemini(_fake_gemini_server: FakeGemini) -> Iterator[FakeGemini]:
    """A running `FakeGemini` on loopback, reset for this test."""
    _fake_gemini_server.reset()
    yield _fake_gemini_server
    _fake_gemini_server.reset()


@pytest.fixture
def fake_gemini_clock() -> ManualClock:
    """The clock `fake_nanobanana` retries on: ``.sleeps`` lists every wait it asked for."""
    from ._faults import ManualClock

    return ManualClock()


@pytest.fixture
def fake_nanobanana(
    fake_gemini: FakeGemini, fake_gemini_clock: ManualClock
) -> Iterator[NanoBanana]:
    """A `NanoBanana` client on `fake_gemini` whose retry waits take no real time.

    Its `RetryPolicy` is the default one (same attempts, same decisions) without jitter, on
    `fake_gemini_clock`: each wait advances that clock instead of sleeping.

    Example:
        >>> def test_survives_overload(fake_gemini, fake_nanobanana):
        ...     fake_gemini.push(Fault.unavailable(), Fault.unavailable())
        ...     assert fake_nanobanana.generate("a fox").image is not None
    """
    from nanobanana import NanoBanana, RetryPolicy

    clock = fake_gemini_clock
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep, jitter=0)
    with NanoBanana(api_key="fake-gemini", base_url=fake_gemini.url, retry=policy) as client:
        yield client
