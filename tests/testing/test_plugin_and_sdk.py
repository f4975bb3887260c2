"""The pytest fixtures users get, and how the SDK reads the emulator's live-worded errors."""

from __future__ import annotations

import time

import pytest

from nanobanana import NanoBanana, QuotaExhaustedError, RetryPolicy
from nanobanana.testing import FakeGemini, Fault, ManualClock


def test_fake_nanobanana_retries_without_waiting(
    fake_gemini: FakeGemini, fake_nanobanana: NanoBanana, fake_gemini_clock: ManualClock
) -> None:
    fake_gemini.push(Fault.unavailable(), Fault.rate_limit(retry_delay=17))
    start = time.monotonic()
    result = fake_nanobanana.generate("a fox")
    assert len(result.images) == 1 and result.image.data[:2] in (b"\xff\xd8", b"\x89P")
    assert time.monotonic() - start < 5  # real waits would be 2 s + 17 s
    assert len(fake_gemini_clock.sleeps) == 2 and fake_gemini_clock.sleeps[1] == 17
    assert len(fake_gemini.generate_requests) == 3


def _client(server: FakeGemini) -> NanoBanana:
    clock = ManualClock()
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep, jitter=0)
    return NanoBanana(api_key="k", base_url=server.url, retry=policy)


def test_limit_zero_requests_first_is_quota_exhausted(fake_gemini: FakeGemini) -> None:
    fake_gemini.push(Fault.quota_zero())
    with _client(fake_gemini) as nb, pytest.raises(QuotaExhaustedError):
        nb.generate("a fox")
    assert len(fake_gemini.generate_requests) == 1  # not retried


def test_limit_zero_tokens_first_is_quota_exhausted(fake_gemini: FakeGemini) -> None:
    """The live body lists its two violations in either order; limit: 0 decides."""
    fake_gemini.push(Fault.quota_zero(tokens_first=True))
    with _client(fake_gemini) as nb, pytest.raises(QuotaExhaustedError):
        nb.generate("a fox")
    assert len(fake_gemini.generate_requests) == 1


def test_live_error_faults_through_google_genai(fake_gemini: FakeGemini) -> None:
    from google import genai
    from google.genai import errors, types

    client = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=fake_gemini.url, api_version="v1"))  # fmt: skip
    fake_gemini.push(Fault.model_not_found(), Fault.invalid_key(), Fault.deadline_expired())
    with pytest.raises(errors.ClientError) as missing:
        client.models.generate_content(model="gemini-3-pro-image", contents="a fox")
    assert missing.value.message.startswith(
        "models/gemini-3-pro-image is not found for API version v1, "
    )
    with pytest.raises(errors.ClientError) as bad_key:
        client.models.generate_content(model="gemini-3-pro-image", contents="a fox")
    reasons = [d.get("reason") for d in bad_key.value.details["error"]["details"]]
    assert bad_key.value.code == 400 and "API_KEY_INVALID" in reasons
    with pytest.raises(errors.ServerError) as deadline:
        client.models.generate_content(model="gemini-3-pro-image", contents="a fox")
    assert deadline.value.message == "Deadline expired before operation could complete."
