"""pytest plugin (entry point ``pytest11``): the ``fake_gemini`` fixture.

One emulator serves the whole run; each test gets it reset (no faults, files, batches or
recorded requests left over from another test). Nothing heavy is imported until a test asks
for the fixture, so installing nanobanana costs other test suites nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
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
