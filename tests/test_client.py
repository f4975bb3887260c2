"""The client against the emulator: real google-genai, real HTTP, a fake clock."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from nanobanana import (
    APIConnectionError,
    AsyncNanoBanana,
    BadRequestError,
    GenerationError,
    MissingAPIKeyError,
    NanoBanana,
    NoImageError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExhaustedError,
    RateLimitError,
    Reference,
    RetryPolicy,
    SafetyBlockedError,
    ServerError,
    UnknownModelWarning,
)
from nanobanana.testing import FakeGemini, Fault
from tests.conftest import photo


def run_async(server: FakeGemini, policy: RetryPolicy, **kwargs):
    async def go():
        async with AsyncNanoBanana(api_key="test", base_url=server.url, retry=policy) as client:
            return await client.generate(**kwargs)

    return asyncio.run(go())


@pytest.fixture(params=["sync", "async"])
def generate(request, fake_gemini: FakeGemini, policy: RetryPolicy, nb: NanoBanana):
    """Each test runs through both shells: they must behave the same."""
    if request.param == "sync":
        return lambda **kw: nb.generate(**kw)
    return lambda **kw: run_async(fake_gemini, policy, **kw)


def test_success_keeps_thoughts_apart(generate) -> None:
    result = generate(prompt="a red fox", aspect_ratio="16:9", size="2k", include_thoughts=True)
    assert len(result.images) == 1 and not result.image.thought
    assert (result.image.width, result.image.height) == (2752, 1536)
    assert len(result.thought_images) == 2 and all(t.thought for t in result.thought_images)
    assert any(isinstance(t, str) for t in result.thoughts)
    assert result.image.thought_signature
    assert result.finish_reason == "STOP" and result.model_version == "gemini-3-pro-image"
    assert result.usage.output_image_tokens == 1120 and result.usage.thinking_tokens > 0
    assert result.cost is not None and result.cost > 1120 * 120 / 1e6


def test_request_on_the_wire(fake_gemini: FakeGemini, nb: NanoBanana) -> None:
    nb.generate("a fox", references=[Reference.human(photo(64, 64))], aspect_ratio="4:5", size="4k")
    (sent,) = fake_gemini.generate_requests
    assert sent.body["generationConfig"]["imageConfig"] == {"aspectRatio": "4:5", "imageSize": "4K"}
    assert sent.body["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]


def test_multi_image_results(generate) -> None:
    result = generate(prompt="Generate 3 images: a fox in spring, summer and autumn")
    assert len(result.images) == 3
    assert result.image is result.images[-1]
    assert len({i.data for i in result.images}) == 3


@pytest.mark.parametrize(
    ("fault", "error", "attr"),
    [
        (Fault.safety("IMAGE_SAFETY", message="filtered out"), SafetyBlockedError, "IMAGE_SAFETY"),
        (Fault.safety("PROHIBITED_CONTENT"), SafetyBlockedError, "PROHIBITED_CONTENT"),
        (Fault.blocked("PROHIBITED_CONTENT"), SafetyBlockedError, "PROHIBITED_CONTENT"),
        (Fault.no_image(), NoImageError, None),
        (Fault.no_image(reason="STOP", text="only words"), NoImageError, None),
    ],
)
def test_no_final_image_raises_with_the_result(fake_gemini, generate, fault, error, attr) -> None:
    fake_gemini.push(fault)
    with pytest.raises(error) as info:
        generate(prompt="a fox")
    assert isinstance(info.value, GenerationError)
    result = info.value.result
    assert result.usage.prompt_tokens > 0  # what was billed is kept
    if attr:
        assert info.value.reason == attr
    if fault.message == "filtered out":
        assert result.finish_message == "filtered out"  # google-genai drops it; we do not
    if fault.message == "only words":
        assert result.text == "only words"
    assert len(fake_gemini.generate_requests) == 1  # never retried


@pytest.mark.parametrize(
    "fault",
    [
        Fault.unavailable(),
        Fault.internal(),
        Fault.deadline_exceeded(),
        Fault.drop(),
        Fault.truncate(),
    ],
)
def test_transient_faults_are_retried(fake_gemini, generate, clock, fault) -> None:
    fake_gemini.push(fault, fault)
    result = generate(prompt="a fox")
    assert result.images
    assert len(fake_gemini.generate_requests) == 3
    assert clock.sleeps == [2.0, 4.0]  # exponential backoff (jitter off)


def test_retry_honours_retry_delay(fake_gemini, generate, clock) -> None:
    fake_gemini.push(Fault.rate_limit(retry_delay=17))
    assert generate(prompt="a fox").images
    assert clock.sleeps == [17.0]


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (Fault.error(400, "INVALID_ARGUMENT", "bad"), BadRequestError, "bad"),
        (Fault.error(403, "PERMISSION_DENIED", "no access"), PermissionDeniedError, "no access"),
        (
            Fault.rate_limit(quota="per_day"),
            QuotaExhaustedError,
            "GenerateRequestsPerDayPerProjectPerModel",
        ),
        (Fault.rate_limit(quota="zero"), QuotaExhaustedError, "will not recover"),
    ],
)
def test_what_is_not_transient_raises_at_once(
    fake_gemini, generate, clock, fault, error, message
) -> None:
    fake_gemini.push(fault)
    with pytest.raises(error, match=message):
        generate(prompt="a fox")
    assert len(fake_gemini.generate_requests) == 1 and clock.sleeps == []


def test_unknown_model_is_not_found(generate) -> None:
    with pytest.warns(UnknownModelWarning, match="nanobanana models"):
        with pytest.raises(NotFoundError, match="is not found"):
            generate(prompt="a fox", model="gemini-0-nonexistent-image")


def test_attempts_run_out(fake_gemini, generate, clock) -> None:
    fake_gemini.push(*[Fault.unavailable()] * 5)
    with pytest.raises(ServerError) as info:
        generate(prompt="a fox")
    assert info.value.code == 503
    assert len(fake_gemini.generate_requests) == 5


def test_deadline_stops_retries(fake_gemini, clock) -> None:
    policy = RetryPolicy(clock=clock, sleep=clock.sleep, deadline=30, jitter=0, max_attempts=10)
    fake_gemini.push(Fault.rate_limit(retry_delay=17), Fault.rate_limit(retry_delay=17))
    with (
        NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb,
        pytest.raises(RateLimitError) as info,
    ):
        nb.generate("a fox")
    assert info.value.retry_delay == 17.0
    assert clock.sleeps == [17.0]  # a second 17 s wait would pass the 30 s deadline
    assert len(fake_gemini.generate_requests) == 2


def test_connection_errors_are_typed(fake_gemini, clock) -> None:
    fake_gemini.push(Fault.drop())
    policy = RetryPolicy.none()
    with (
        NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb,
        pytest.raises(APIConnectionError) as info,
    ):
        nb.generate("a fox")
    assert info.value.__cause__ is not None


def test_retries_are_logged_without_the_key(fake_gemini, nb, caplog) -> None:
    fake_gemini.push(Fault.unavailable())
    with caplog.at_level(logging.DEBUG):
        nb.generate("a fox")
    assert "attempt 1 of 5 failed" in caplog.text and "503" in caplog.text
    assert "test" not in caplog.text.replace("latest", "")


def test_missing_key_is_a_clear_error_before_any_request(fake_gemini) -> None:
    with pytest.raises(MissingAPIKeyError, match="GEMINI_API_KEY"):
        NanoBanana(base_url=fake_gemini.url)
    assert fake_gemini.requests == []


def test_key_from_environment(fake_gemini, monkeypatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "from-env")
    with NanoBanana(base_url=fake_gemini.url) as nb:
        assert nb.generate("a fox").images
    assert "from-env" not in repr(nb)


def test_invalid_request_sends_nothing(fake_gemini, nb) -> None:
    with pytest.raises(ValueError, match="allowed"):
        nb.generate("a fox", size="3K")
    assert fake_gemini.requests == []


def test_phone_photos_as_references(fake_gemini, nb, phone_photo) -> None:
    refs = (
        [Reference.object(phone_photo)] * 6
        + [Reference.human(phone_photo)] * 5
        + [Reference.style(phone_photo)] * 3
    )
    result = nb.generate("Everyone at one table", references=refs)
    assert result.images
    assert fake_gemini.generate_requests[-1].size < 20 * 1024 * 1024


class TestSave:
    @pytest.fixture
    def image(self, nb):
        return nb.generate("a fox", aspect_ratio="1:1").image

    def test_original_bytes_when_extension_matches_or_is_absent(
        self, image, tmp_path: Path
    ) -> None:
        assert image.save(tmp_path / "fox").name == "fox.jpg"
        assert (tmp_path / "fox.jpg").read_bytes() == image.data
        assert image.save(tmp_path / "fox.jpeg").read_bytes() == image.data

    def test_converts_when_the_name_asks_for_another_format(self, image, tmp_path: Path) -> None:
        path = image.save(tmp_path / "fox.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_refuses_to_convert_with_format_original(self, image, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="names PNG but the image is image/jpeg"):
            image.save(tmp_path / "fox.png", format="original")
        assert not (tmp_path / "fox.png").exists()

    def test_unknown_extension(self, image, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match=r"\.gif"):
            image.save(tmp_path / "fox.gif")

    def test_atomic_and_no_leftovers(self, image, tmp_path: Path) -> None:
        image.save(tmp_path / "fox.jpg")
        assert [p.name for p in tmp_path.iterdir()] == ["fox.jpg"]

    def test_metadata_sidecar(self, image, tmp_path: Path) -> None:
        import json

        path = image.save(tmp_path / "fox", metadata=True)
        meta = json.loads(path.with_name("fox.jpg.json").read_text())
        assert (
            meta["prompt"] == "a fox"
            and meta["aspect_ratio"] == "1:1"
            and meta["sha256"] == image.sha256
        )
        assert (meta["width"], meta["height"]) == (1024, 1024)
        assert meta["response_id"] and meta["usage"]["output_image_tokens"] == 1120
        assert meta["reference_sha256"] == []

    def test_sidecar_names_the_references_sent(self, nb, tmp_path: Path) -> None:
        import hashlib
        import json

        ref = photo(320, 240)
        image = nb.generate("a fox", references=[Reference.style(ref)]).image
        path = image.save(tmp_path / "fox", metadata=True)
        meta = json.loads(path.with_name("fox.jpg.json").read_text())
        assert meta["reference_sha256"] == [hashlib.sha256(ref).hexdigest()]
        assert "test" not in json.dumps(meta)  # never the key

    def test_notebook_reprs(self, image) -> None:
        assert image._repr_jpeg_() is image.data
        assert image._repr_png_() is None
        assert image._repr_html_().startswith('<img src="data:image/jpeg;base64,')
        assert "1024x1024" in repr(image)


def test_raw_is_the_genai_response(nb) -> None:
    result = nb.generate("a fox")
    raw = result.raw
    assert raw.candidates[0].finish_reason.value == "STOP"
    assert raw.parts[-1].inline_data.data is result.image.data  # shared, not copied


def test_from_response_parses_a_genai_response(genai_client) -> None:
    from nanobanana import Result

    response = genai_client.models.generate_content(
        model="gemini-3-pro-image", contents="Generate 2 images: a fox"
    )
    result = Result.from_response(response)
    first = next(p for p in response.parts if p.inline_data)  # a text part may come first, or not
    assert len(result.images) == 2 and result.images[0].data == first.inline_data.data


def test_from_response_gives_plain_finish_reasons(genai_client) -> None:
    from nanobanana import Result

    response = genai_client.models.generate_content(model="gemini-3-pro-image", contents="a fox")
    assert Result.from_response(response).finish_reason == "STOP"


class TestStream:
    def test_events_arrive_in_order_then_the_result(self, generate_stream) -> None:
        events, result = generate_stream(
            prompt="Generate 2 images: a fox", aspect_ratio="1:1", include_thoughts=True
        )
        kinds = [
            ("thought" if e.thought else "final", "image" if e.image else "text") for e in events
        ]
        assert kinds[:4] == [("thought", "text"), ("thought", "image")] * 2
        assert kinds[-2:] == [("final", "image"), ("final", "image")]
        assert len(result.images) == 2 and result.finish_reason == "STOP"
        assert [e.image.data for e in events if e.image and not e.thought] == [
            i.data for i in result.images
        ]
        assert result.usage.total_tokens > 0

    def test_transient_errors_before_the_image_are_retried(
        self, fake_gemini, generate_stream, clock
    ) -> None:
        fake_gemini.push(Fault.unavailable(), Fault.truncate(0.2))
        _, result = generate_stream(prompt="a fox")
        assert result.images and not result.problems
        assert [r.status for r in fake_gemini.generate_requests] == [503, 200, 200]
        assert clock.sleeps == [2.0, 4.0]

    def test_a_stream_cut_after_its_image_keeps_it_and_is_not_paid_twice(
        self, fake_gemini, generate_stream
    ) -> None:
        fake_gemini.push(Fault.truncate(0.93))  # cut inside the last chunk: the image has arrived
        _, result = generate_stream(prompt="a fox", include_thoughts=False)
        assert len(result.images) == 1 and "cut before it finished" in result.problems[0]
        assert len(fake_gemini.generate_requests) == 1

    def test_blocked_stream_raises_with_the_result(self, fake_gemini, generate_stream) -> None:
        fake_gemini.push(Fault.safety("IMAGE_SAFETY"))
        with pytest.raises(SafetyBlockedError) as info:
            generate_stream(prompt="a fox")
        assert info.value.result.finish_reason == "IMAGE_SAFETY"


@pytest.fixture(params=["sync", "async"])
def generate_stream(request, fake_gemini: FakeGemini, policy: RetryPolicy):
    def sync(**kw):
        with NanoBanana(api_key="test", base_url=fake_gemini.url, retry=policy) as nb:
            stream = nb.stream(**kw)
            events = list(stream)
            return events, stream.final()

    def run_async(**kw):
        async def go():
            async with AsyncNanoBanana(
                api_key="test", base_url=fake_gemini.url, retry=policy
            ) as nb:
                stream = nb.stream(**kw)
                events = [e async for e in stream]
                return events, await stream.final()

        return asyncio.run(go())

    return sync if request.param == "sync" else run_async
