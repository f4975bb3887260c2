"""Realistic mode: live-sized signatures and images, live latency scaled by time_scale."""

from __future__ import annotations

import base64
import io

from google.genai import errors, types
from PIL import Image

from nanobanana.testing import FakeGemini, Fault, ManualClock
from tests.conftest import raw_client

PRO = "gemini-3-pro-image"


def generate(
    server: FakeGemini, size: str = "1K", prompt: str = "a fox"
) -> types.GenerateContentResponse:
    client = raw_client(server)
    return client.models.generate_content(
        model=PRO, contents=prompt, config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio="1:1", image_size=size)),
    )  # fmt: skip


def test_live_sizes_and_latency() -> None:
    clock = ManualClock()
    with FakeGemini(realistic=True, clock=clock, sleep=clock.sleep, time_scale=0.5) as server:
        response = generate(server)
        (image,) = [p for p in response.parts if p.inline_data and not p.thought]
        assert 700_000 <= len(image.inline_data.data) <= 900_000
        with Image.open(io.BytesIO(image.inline_data.data)) as picture:
            picture.load()  # the padding is a valid APP11 segment: it still decodes
            assert picture.size == (1024, 1024)
        signatures = [len(base64.b64encode(p.thought_signature)) for p in response.parts]
        assert all(600_000 <= n <= 2_900_000 for n in signatures)
        total = sum(signatures) + len(base64.b64encode(image.inline_data.data))
        assert 2_300_000 <= total <= 4_300_000  # live: a 1K answer is 2.4-4.2 MB
        (slept,) = clock.sleeps
        assert 17 * 0.5 <= slept <= 29 * 0.5

        generate(server, "4K", "a 4K fox")
        assert 50 * 0.5 <= clock.sleeps[-1] <= 120 * 0.5


def test_4k_is_several_megabytes() -> None:
    clock = ManualClock()
    with FakeGemini(realistic=True, clock=clock, sleep=clock.sleep) as server:
        response = generate(server, "4K")
        (image,) = [p for p in response.parts if p.inline_data and not p.thought]
        assert 4_000_000 <= len(image.inline_data.data) <= 7_500_000


def test_time_scale_leaves_retry_delay_real() -> None:
    with FakeGemini(realistic=True, time_scale=0.0) as server:
        server.push(Fault.rate_limit(retry_delay=17))
        try:
            generate(server)
        except errors.ClientError as exc:
            retry = [d for d in exc.details["error"]["details"] if "RetryInfo" in d["@type"]]
            assert retry[0]["retryDelay"] == "17s"
        else:
            raise AssertionError("expected a 429")


def test_every_stream_chunk_has_full_usage(fake_gemini: FakeGemini) -> None:
    client = raw_client(fake_gemini)
    chunks = list(client.models.generate_content_stream(model=PRO, contents="a fox"))
    assert len(chunks) >= 2
    totals = []
    for chunk in chunks:
        usage = chunk.usage_metadata
        assert usage.prompt_token_count and usage.total_token_count and usage.thoughts_token_count
        assert usage.candidates_token_count is not None
        totals.append(usage.total_token_count)
    assert totals == sorted(totals)
    assert chunks[-1].usage_metadata.candidates_tokens_details


def test_stream_cut_by_an_error_event(fake_gemini: FakeGemini) -> None:
    fake_gemini.push(Fault.stream_error(after=1))
    seen = []
    client = raw_client(fake_gemini)
    try:
        for chunk in client.models.generate_content_stream(model=PRO, contents="a fox"):
            seen.append(chunk)
    except errors.ServerError as exc:
        assert exc.code == 503
    else:
        raise AssertionError("the stream should have ended in an error")
    assert len(seen) == 1
