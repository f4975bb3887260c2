from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
from google import genai
from google.genai import types
from hypothesis import settings

from nanobanana import NanoBanana, RetryPolicy
from nanobanana.testing import FakeGemini, ManualClock, sample_photo

# Property tests check outcomes, not speed: on a loaded 2-core CI machine an example can take
# over Hypothesis's default 200 ms deadline, which would fail a correct run.
settings.register_profile("nanobanana", deadline=None)
settings.load_profile("nanobanana")


@pytest.fixture(autouse=True)
def unknown_models_warn_again() -> None:
    """An unknown model id warns once per process: each test starts as a new process would."""
    from nanobanana._models import registry

    registry._WARNED.clear()


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may see a real key from the developer's shell."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def genai_client(fake_gemini: FakeGemini) -> Iterator[genai.Client]:
    """The raw google-genai client, pointed at the emulator."""
    with raw_client(fake_gemini) as client:
        yield client


def raw_client(server: FakeGemini, key: str = "test-key") -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=server.url))


@functools.cache
def photo(width: int = 1600, height: int = 1200, seed: int = 0, **kw) -> bytes:
    """Cached photo-like JPEGs: making a 12 MP one takes over a second."""
    return sample_photo(width, height, seed=seed, **kw)


@pytest.fixture(scope="session")
def phone_photo() -> bytes:
    """A 12 MP phone photo (3-6 MB JPEG) held upright (EXIF orientation 6)."""
    return photo(4032, 3024, seed=7, orientation=6)


@pytest.fixture
def clock(fake_gemini_clock: ManualClock) -> ManualClock:
    """A clock that moves only when slept on: retries take no real time.

    The one `fake_nanobanana` (and so `nb`) retries on.
    """
    return fake_gemini_clock


@pytest.fixture
def nb(fake_nanobanana: NanoBanana) -> NanoBanana:
    """The shipped `fake_nanobanana` fixture: a client on the emulator, retrying on `clock`."""
    return fake_nanobanana


@pytest.fixture
def policy(clock: ManualClock) -> RetryPolicy:
    """The default retry policy on the manual clock, without jitter (waits are exact)."""
    return RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep, jitter=0)
