"""The emulator speaks the protocol google-genai speaks: driven here by raw google-genai only."""

from __future__ import annotations

import base64
import io
import json
import threading
import urllib.error
import urllib.request

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from nanobanana.testing import FakeGemini, Fault, ManualClock
from tests.conftest import photo, raw_client

MODEL = "gemini-3-pro-image"
PIXELS = {
    ("1:1", "1K"): (1024, 1024), ("2:3", "1K"): (848, 1264), ("3:2", "1K"): (1264, 848),
    ("3:4", "1K"): (896, 1200), ("4:3", "1K"): (1200, 896), ("4:5", "1K"): (928, 1152),
    ("5:4", "1K"): (1152, 928), ("9:16", "1K"): (768, 1376), ("16:9", "1K"): (1376, 768),
    ("21:9", "1K"): (1584, 672), ("16:9", "2K"): (2752, 1536), ("9:16", "2K"): (1536, 2752),
    ("21:9", "4K"): (6336, 2688), ("1:1", "4K"): (4096, 4096), ("2:3", "4K"): (3392, 5056),
}  # fmt: skip


def config(
    ratio: str | None = None, size: str | None = None, thoughts: bool = False
) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=ratio, image_size=size)
        if ratio or size
        else None,
        thinking_config=types.ThinkingConfig(include_thoughts=True) if thoughts else None,
    )


def images(response: types.GenerateContentResponse, thought: bool = False) -> list[types.Part]:
    return [p for p in response.parts or [] if p.inline_data and bool(p.thought) == thought]


@pytest.mark.parametrize(("ratio", "size"), list(PIXELS))
def test_exact_pixel_sizes(genai_client: genai.Client, ratio: str, size: str) -> None:
    response = genai_client.models.generate_content(
        model=MODEL, contents="a fox", config=config(ratio, size)
    )
    (part,) = images(response)
    assert part.inline_data.mime_type == "image/jpeg"
    with Image.open(io.BytesIO(part.inline_data.data)) as image:
        assert image.format == "JPEG"
        assert image.size == PIXELS[(ratio, size)]


def test_deterministic_for_a_request_and_different_across_prompts(
    genai_client: genai.Client,
) -> None:
    def data(prompt: str) -> bytes:
        r = genai_client.models.generate_content(model=MODEL, contents=prompt, config=config("1:1"))
        return images(r)[0].inline_data.data

    assert data("a fox") == data("a fox")
    assert data("a fox") != data("a cat")


def test_thoughts_only_when_asked(genai_client: genai.Client) -> None:
    plain = genai_client.models.generate_content(
        model=MODEL, contents="a fox", config=config("1:1")
    )
    assert not any(p.thought for p in plain.parts)
    thinking = genai_client.models.generate_content(
        model=MODEL, contents="a fox", config=config("1:1", thoughts=True)
    )
    thought_images = images(thinking, thought=True)
    assert 1 <= len(thought_images) <= 2
    assert any(p.thought and p.text for p in thinking.parts)
    final = images(thinking)
    assert len(final) == 1 and final[0].thought_signature
    # thoughts come first, and are smaller than the final image
    assert thinking.parts.index(final[0]) > thinking.parts.index(thought_images[-1])
    assert len(thought_images[0].inline_data.data) < len(final[0].inline_data.data)
    usage = thinking.usage_metadata
    assert usage.thoughts_token_count and usage.thoughts_token_count > 0
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    )


@pytest.mark.parametrize(
    ("prompt", "n"),
    [("Generate 3 images: a fox in each season", 3), ("two views of a red car", 2), ("a fox", 1)],
)
def test_multi_image_prompts(genai_client: genai.Client, prompt: str, n: int) -> None:
    response = genai_client.models.generate_content(
        model=MODEL, contents=prompt, config=config("1:1")
    )
    assert len(images(response)) == n
    assert response.usage_metadata.candidates_token_count >= 1120 * n


@pytest.mark.parametrize(("size", "tokens"), [("1K", 1120), ("2K", 1120), ("4K", 2000)])
def test_usage_follows_the_token_table(genai_client: genai.Client, size: str, tokens: int) -> None:
    r = genai_client.models.generate_content(
        model=MODEL, contents="a fox", config=config("1:1", size)
    )
    image_tokens = [d for d in r.usage_metadata.candidates_tokens_details if d.modality == "IMAGE"]
    assert image_tokens[0].token_count == tokens
    assert r.model_version == MODEL and r.response_id


@pytest.mark.parametrize("pixels", [(256, 256), (640, 480), (1600, 1200)])
def test_input_images_count_a_fixed_figure_whatever_their_pixels(
    genai_client: genai.Client, pixels: tuple[int, int]
) -> None:
    """Gemini 3 counts about 1,065-1,101 tokens per image at the default resolution (FACTS)."""
    part = types.Part.from_bytes(data=photo(*pixels), mime_type="image/jpeg")
    r = genai_client.models.generate_content(
        model=MODEL, contents=["edit this", part], config=config()
    )
    details = {d.modality: d.token_count for d in r.usage_metadata.prompt_tokens_details}
    assert 1065 <= details["IMAGE"] <= 1101
    counted = genai_client.models.count_tokens(model=MODEL, contents=["edit this", part])
    assert counted.total_tokens == r.usage_metadata.prompt_token_count


def test_ultra_high_counts_about_twice(genai_client: genai.Client) -> None:
    data = photo(640, 480)
    counts = [
        genai_client.models.count_tokens(model=MODEL, contents=["edit this", types.Part(
            inline_data=types.Blob(data=data, mime_type="image/jpeg"),
            media_resolution=types.PartMediaResolution(level=level) if level else None,
        )]).total_tokens - 3
        for level in (None, "MEDIA_RESOLUTION_ULTRA_HIGH")
    ]  # fmt: skip
    assert counts[1] == 2 * counts[0]


def test_async_client(fake_gemini: FakeGemini) -> None:
    import asyncio

    async def run() -> list[int]:
        async with raw_client(fake_gemini).aio as client:
            results = await asyncio.gather(
                *(
                    client.models.generate_content(
                        model=MODEL, contents=f"fox {i}", config=config("1:1")
                    )
                    for i in range(4)
                )
            )
        return [len(images(r)) for r in results]

    assert asyncio.run(run()) == [1, 1, 1, 1]


def test_streaming_sends_each_image_whole_and_finishes_last(genai_client: genai.Client) -> None:
    chunks = list(
        genai_client.models.generate_content_stream(
            model=MODEL, contents="a fox", config=config("16:9", thoughts=True)
        )
    )
    image_chunks = [c for c in chunks if c.parts and any(p.inline_data for p in c.parts)]
    assert len(image_chunks) == 3  # 2 thoughts + 1 final
    for chunk in image_chunks:
        for part in chunk.parts:
            if part.inline_data and not part.thought:
                assert Image.open(io.BytesIO(part.inline_data.data)).size == (1376, 768)
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])
    totals = [c.usage_metadata.total_token_count for c in chunks]
    assert totals[-1] == max(totals)


def test_v1beta_and_snake_or_camel_case_keys_are_served(fake_gemini: FakeGemini) -> None:
    image = base64.urlsafe_b64encode(photo(64, 64)).decode().rstrip("=")
    for version, body in [
        ("v1beta", {"contents": [{"parts": [{"text": "a fox"}, {"inlineData": {"mimeType": "image/jpeg", "data": image}}]}],
                    "generationConfig": {"imageConfig": {"aspectRatio": "1:1"}}}),
        ("v1", {"contents": [{"parts": [{"text": "a fox"}, {"inline_data": {"mime_type": "image/jpeg", "data": image}}]}],
                "generation_config": {"image_config": {"aspect_ratio": "1:1", "image_size": "1K"}}}),
    ]:  # fmt: skip
        status, answer = raw_post(fake_gemini, f"/{version}/models/{MODEL}:generateContent", body)
        assert status == 200, answer
        assert answer["candidates"][0]["finishReason"] == "STOP"


def raw_post(
    server: FakeGemini, path: str, body: object, key: str | None = "k"
) -> tuple[int, dict]:
    request = urllib.request.Request(
        server.url + path, data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", **({"x-goog-api-key": key} if key else {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_missing_key_is_403(fake_gemini: FakeGemini) -> None:
    status, body = raw_post(
        fake_gemini, f"/v1beta/models/{MODEL}:generateContent", {"contents": []}, key=None
    )
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"


def test_invalid_key_when_keys_are_set() -> None:
    with FakeGemini(api_keys={"good"}) as server, raw_client(server, "bad") as client:
        with pytest.raises(errors.ClientError) as info:
            client.models.generate_content(model=MODEL, contents="x")
        assert info.value.code == 400 and "API key not valid" in info.value.message


@pytest.mark.parametrize(
    ("model", "cfg", "code", "message"),
    [
        ("gemini-2.0-nonexistent", config(), 404, "is not found"),
        ("gemini-3-pro-image-preview", config(), 404, "is not found"),
        (MODEL, config("1:1", "2k"), 400, "'2k'"),
        (MODEL, config("7:3"), 400, "aspect_ratio must be one of '1:1'"),
    ],
)
def test_validation_like_the_real_api(genai_client, model, cfg, code, message) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(model=model, contents="a fox", config=cfg)
    assert info.value.code == code
    assert message in info.value.message


def test_vertex_only_image_options_are_400(fake_gemini: FakeGemini) -> None:
    # google-genai refuses these itself; other clients (and raw HTTP) reach the API.
    body = {"contents": [{"parts": [{"text": "a fox"}]}],
            "generationConfig": {"imageConfig": {"outputMimeType": "image/png"}}}  # fmt: skip
    status, answer = raw_post(fake_gemini, f"/v1beta/models/{MODEL}:generateContent", body)
    assert (
        status == 400
        and answer["error"]["message"]
        == "Invalid JSON payload received. Unknown name "
        "\"outputMimeType\" at 'generation_config.image_config': Cannot find field."
    )


def test_more_than_fourteen_images_is_400(genai_client: genai.Client) -> None:
    part = types.Part.from_bytes(data=photo(64, 64), mime_type="image/jpeg")
    genai_client.models.generate_content(model=MODEL, contents=["x", *[part] * 14])
    with pytest.raises(errors.ClientError, match="Too many images"):
        genai_client.models.generate_content(model=MODEL, contents=["x", *[part] * 15])


def test_request_over_20_mb_is_400(genai_client: genai.Client) -> None:
    big = types.Part.from_bytes(data=photo(64, 64) + b"\0" * 6_000_000, mime_type="image/jpeg")
    with pytest.raises(
        errors.ClientError, match="Request payload size exceeds the limit: 20971520"
    ):
        genai_client.models.generate_content(model=MODEL, contents=["x", big, big, big, big])


def test_corrupt_image_is_400(genai_client: genai.Client) -> None:
    part = types.Part.from_bytes(data=b"\xff\xd8\xff garbage", mime_type="image/jpeg")
    with pytest.raises(errors.ClientError, match="Unable to process input image"):
        genai_client.models.generate_content(model=MODEL, contents=["x", part])


class TestThoughtSignatures:
    def first_turn(self, client: genai.Client) -> tuple[list[types.Content], types.Content]:
        r = client.models.generate_content(
            model=MODEL, contents="a red fox", config=config("1:1", thoughts=True)
        )
        return [types.Content(role="user", parts=[types.Part(text="a red fox")])], r.candidates[
            0
        ].content

    def test_history_with_signatures_is_accepted(self, genai_client: genai.Client) -> None:
        history, model_turn = self.first_turn(genai_client)
        contents = [
            *history,
            model_turn,
            types.Content(role="user", parts=[types.Part(text="make it blue")]),
        ]
        r = genai_client.models.generate_content(
            model=MODEL, contents=contents, config=config("1:1")
        )
        assert images(r)

    @pytest.mark.parametrize("damage", ["missing", "altered"])
    def test_missing_or_altered_signature_is_400(
        self, genai_client: genai.Client, damage: str
    ) -> None:
        history, model_turn = self.first_turn(genai_client)
        broken = model_turn.model_copy(deep=True)
        for part in broken.parts:
            if part.inline_data and not part.thought:
                sig = part.thought_signature
                part.thought_signature = (
                    None if damage == "missing" else sig[:-1] + bytes([sig[-1] ^ 1])
                )
        contents = [*history, broken, types.Content(role="user", parts=[types.Part(text="blue")])]
        with pytest.raises(errors.ClientError) as info:
            genai_client.models.generate_content(model=MODEL, contents=contents)
        assert info.value.code == 400
        expected = (
            "missing a thought_signature" if damage == "missing" else "Corrupted thought signature."
        )
        assert expected in info.value.message

    def test_signature_size_is_configurable(self) -> None:
        with FakeGemini(signature_bytes=700_000) as server, raw_client(server) as client:
            r = client.models.generate_content(model=MODEL, contents="a fox")
            assert len(images(r)[0].thought_signature) == 700_000


class TestFaults:
    @pytest.mark.parametrize(
        ("fault", "code", "status"),
        [
            (Fault.unavailable(), 503, "UNAVAILABLE"),
            (Fault.internal(), 500, "INTERNAL"),
            (Fault.deadline_exceeded(), 504, "DEADLINE_EXCEEDED"),
            (Fault.rate_limit(), 429, "RESOURCE_EXHAUSTED"),
        ],
    )
    def test_error_faults(self, fake_gemini, genai_client, fault, code, status) -> None:
        fake_gemini.push(fault)
        with pytest.raises(errors.APIError) as info:
            genai_client.models.generate_content(model=MODEL, contents="a fox")
        assert (info.value.code, info.value.status) == (code, status)
        # the fault is used up: the next request succeeds
        assert images(genai_client.models.generate_content(model=MODEL, contents="a fox"))

    @pytest.mark.parametrize(
        ("quota", "quota_id", "retry"),
        [
            ("per_minute", "GenerateRequestsPerMinutePerProjectPerModel", "17s"),
            ("per_day", "GenerateRequestsPerDayPerProjectPerModel", None),
            # live: a zero quota comes with a RetryInfo too
            ("zero", "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "47s"),
        ],
    )
    def test_rate_limit_details(self, fake_gemini, genai_client, quota, quota_id, retry) -> None:
        fake_gemini.push(Fault.rate_limit(quota=quota))
        with pytest.raises(errors.ClientError) as info:
            genai_client.models.generate_content(model=MODEL, contents="a fox")
        details = {d["@type"].rsplit(".", 1)[-1]: d for d in info.value.details["error"]["details"]}
        assert details["QuotaFailure"]["violations"][0]["quotaId"] == quota_id
        assert details.get("RetryInfo", {}).get("retryDelay") == retry
        if quota == "zero":
            violations = details["QuotaFailure"]["violations"]
            assert len(violations) == 2 and not any("quotaValue" in v for v in violations)
            assert "limit: 0" in info.value.message

    def test_dropped_connection(self, fake_gemini, genai_client) -> None:
        fake_gemini.push(Fault.drop())
        with pytest.raises(Exception) as info:
            genai_client.models.generate_content(model=MODEL, contents="a fox")
        # a transport error (httpx's RemoteProtocolError), not an API answer
        assert not isinstance(info.value, errors.APIError)
        assert "disconnected" in str(info.value).lower()

    def test_truncated_body(self, fake_gemini, genai_client) -> None:
        fake_gemini.push(Fault.truncate())
        with pytest.raises(Exception) as info:
            genai_client.models.generate_content(model=MODEL, contents="a fox")
        assert not isinstance(info.value, errors.APIError)

    @pytest.mark.parametrize(
        "reason", ["IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT"]
    )
    def test_safety_finish(self, fake_gemini, genai_client, reason) -> None:
        fake_gemini.push(Fault.safety(reason))
        r = genai_client.models.generate_content(model=MODEL, contents="a fox")
        assert r.candidates[0].finish_reason.value == reason
        assert not images(r)
        # google-genai drops finishMessage on this path; the raw body keeps it
        fake_gemini.push(Fault.safety(reason, message="filtered: reason text"))
        raw = genai_client.models.generate_content(
            model=MODEL,
            contents="a fox",
            config=types.GenerateContentConfig(should_return_http_response=True),
        )
        body = json.loads(raw.sdk_http_response.body)
        assert body["candidates"][0]["finishMessage"] == "filtered: reason text"
        assert body["candidates"][0]["content"] == {"role": "model"}

    def test_prompt_block_has_no_candidates(self, fake_gemini, genai_client) -> None:
        fake_gemini.push(Fault.blocked("PROHIBITED_CONTENT"))
        r = genai_client.models.generate_content(model=MODEL, contents="a fox")
        assert r.candidates is None
        assert r.prompt_feedback.block_reason.value == "PROHIBITED_CONTENT"

    def test_no_image(self, fake_gemini, genai_client) -> None:
        fake_gemini.push(Fault.no_image(), Fault.no_image(reason="STOP", text="Just words."))
        r = genai_client.models.generate_content(model=MODEL, contents="a fox")
        assert r.candidates[0].finish_reason.value == "NO_IMAGE" and not r.parts
        r = genai_client.models.generate_content(model=MODEL, contents="a fox")
        assert (
            r.candidates[0].finish_reason.value == "STOP"
            and r.text == "Just words."
            and not images(r)
        )

    def test_faults_apply_to_streaming(self, fake_gemini, genai_client) -> None:
        fake_gemini.push(Fault.unavailable())
        with pytest.raises(errors.ServerError):
            list(genai_client.models.generate_content_stream(model=MODEL, contents="a fox"))

    def test_truncated_stream(self, fake_gemini, genai_client) -> None:
        fake_gemini.push(Fault.truncate())
        with pytest.raises(Exception, match="(?i)incomplete|closed|disconnect|peer"):
            list(
                genai_client.models.generate_content_stream(
                    model=MODEL, contents="a fox", config=config(thoughts=True)
                )
            )

    def test_slow_fault_uses_the_injected_sleep(self) -> None:
        clock = ManualClock()
        with (
            FakeGemini(clock=clock, sleep=clock.sleep, latency={"4K": 90.0}) as server,
            raw_client(server) as client,
        ):
            start = clock()
            client.models.generate_content(model=MODEL, contents="a", config=config("1:1", "4K"))
            assert clock() - start == 90.0
            server.push(Fault.slow(5))
            client.models.generate_content(model=MODEL, contents="a", config=config("1:1", "1K"))
            assert clock() - start == 95.0


class TestQuotas:
    def test_requests_per_minute(self) -> None:
        clock = ManualClock()
        with FakeGemini(rpm=2, clock=clock) as server, raw_client(server) as client:
            for _ in range(2):
                client.models.generate_content(model=MODEL, contents="a")
            clock.advance(20)
            with pytest.raises(errors.ClientError) as info:
                client.models.generate_content(model=MODEL, contents="a")
            retry = [
                d
                for d in info.value.details["error"]["details"]
                if d["@type"].endswith("RetryInfo")
            ]
            assert retry[0]["retryDelay"] == "40s"
            clock.advance(40)
            client.models.generate_content(model=MODEL, contents="a")

    def test_images_per_minute(self) -> None:
        clock = ManualClock()
        with FakeGemini(ipm=3, clock=clock) as server, raw_client(server) as client:
            client.models.generate_content(model=MODEL, contents="Generate 2 images: a fox")
            with pytest.raises(errors.ClientError, match="generate_images"):
                client.models.generate_content(model=MODEL, contents="Generate 2 images: a fox")
            client.models.generate_content(model=MODEL, contents="a fox")

    @staticmethod
    def _retry_delay(client: genai.Client) -> str | None:
        try:
            client.models.generate_content(model=MODEL, contents="a")
        except errors.ClientError as exc:
            assert exc.code == 429
            details = exc.details["error"]["details"]
            return next(d["retryDelay"] for d in details if d["@type"].endswith("RetryInfo"))
        return None

    def test_fixed_minutes_start_again_on_the_minute(self) -> None:
        clock = ManualClock(start=1_050.0)  # 30 s into a minute of the clock
        with (
            FakeGemini(rpm=2, quota_model="minute", clock=clock) as server,
            raw_client(server) as client,
        ):
            assert [self._retry_delay(client) for _ in range(3)] == [None, None, "30s"]
            clock.advance(30)  # a new minute: two more at once, where a window would refuse
            assert [self._retry_delay(client) for _ in range(3)] == [None, None, "60s"]

    def test_a_bucket_allows_a_burst_then_the_rate(self) -> None:
        clock = ManualClock()
        with (
            FakeGemini(rpm=60, quota_model="bucket", burst=3, clock=clock) as server,
            raw_client(server) as client,
        ):
            assert [self._retry_delay(client) for _ in range(4)] == [None, None, None, "1s"]
            clock.advance(1)  # one token a second
            assert [self._retry_delay(client) for _ in range(2)] == [None, "1s"]
            clock.advance(10)  # the bucket holds 3, however long it fills
            assert [self._retry_delay(client) for _ in range(4)] == [None, None, None, "1s"]

    def test_an_unknown_quota_model_is_refused(self) -> None:
        with pytest.raises(ValueError, match="window, minute, bucket"):
            FakeGemini(rpm=2, quota_model="hour")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="only the bucket"):
            FakeGemini(rpm=2, burst=3)


def test_requests_are_recorded_with_the_key_redacted(fake_gemini, genai_client) -> None:
    genai_client.models.generate_content(model=MODEL, contents="a fox", config=config("1:1", "2K"))
    (recorded,) = fake_gemini.generate_requests
    assert recorded.model == MODEL and recorded.status == 200
    assert recorded.body["generationConfig"]["imageConfig"] == {
        "aspectRatio": "1:1",
        "imageSize": "2K",
    }
    assert recorded.headers["x-goog-api-key"] == "<redacted>"
    assert "test-key" not in repr(fake_gemini.requests)


def test_concurrent_requests_are_served_concurrently() -> None:
    # A barrier in the emulator's sleep: it only opens when 4 requests are inside at once.
    barrier = threading.Barrier(4, timeout=10)
    with (
        FakeGemini(latency=1.0, sleep=lambda _: barrier.wait()) as server,
        raw_client(server) as client,
    ):
        threads = [
            threading.Thread(
                target=client.models.generate_content, kwargs={"model": MODEL, "contents": f"x{i}"}
            )
            for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert not barrier.broken
        assert len(server.generate_requests) == 4


class TestFiles:
    def test_upload_get_use_download_delete(self, fake_gemini, genai_client) -> None:
        data = photo(640, 480)
        uploaded = genai_client.files.upload(
            file=io.BytesIO(data),
            config=types.UploadFileConfig(mime_type="image/jpeg", display_name="fox"),
        )
        assert uploaded.name.startswith("files/") and uploaded.size_bytes == len(data)
        assert uploaded.state == types.FileState.ACTIVE and uploaded.display_name == "fox"
        assert genai_client.files.get(name=uploaded.name).uri == uploaded.uri
        assert [f.name for f in genai_client.files.list()] == [uploaded.name]
        part = types.Part.from_uri(file_uri=uploaded.uri, mime_type="image/jpeg")
        r = genai_client.models.generate_content(model=MODEL, contents=[part, "edit it"])
        assert images(r)
        assert genai_client.files.download(file=uploaded.name) == data
        genai_client.files.delete(name=uploaded.name)
        with pytest.raises(errors.ClientError) as info:
            genai_client.models.generate_content(model=MODEL, contents=[part, "edit it"])
        assert info.value.code == 403

    def test_large_upload_in_chunks(self, genai_client) -> None:
        data = photo(640, 480) + b"\0" * 9_000_000  # over google-genai's 8 MB chunk size
        uploaded = genai_client.files.upload(
            file=io.BytesIO(data), config=types.UploadFileConfig(mime_type="image/jpeg")
        )
        assert genai_client.files.download(file=uploaded.name) == data


class TestBatches:
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    @pytest.fixture
    def client(self, clock: ManualClock):
        with FakeGemini(clock=clock, batch_pending=10, batch_running=20) as server:
            with raw_client(server) as client:
                yield server, client

    def test_inline_job_lifecycle(self, client, clock) -> None:
        server, c = client
        job = c.batches.create(
            model=MODEL,
            src=[
                {"contents": [{"role": "user", "parts": [{"text": "a fox"}]}], "metadata": {"key": "fox"}},
                {"contents": [{"role": "user", "parts": [{"text": "a cat"}]}],
                 "config": {"image_config": {"image_size": "2k"}}},
            ],
        )  # fmt: skip
        assert job.state == types.JobState.JOB_STATE_PENDING
        clock.advance(15)
        assert c.batches.get(name=job.name).state == types.JobState.JOB_STATE_RUNNING
        clock.advance(20)
        done = c.batches.get(name=job.name)
        assert done.state == types.JobState.JOB_STATE_SUCCEEDED
        first, second = done.dest.inlined_responses
        assert images(first.response) and first.metadata == {"key": "fox"}
        assert second.error is not None and second.error.code == 400

    def test_file_job(self, client, clock) -> None:
        server, c = client
        lines = "\n".join(
            json.dumps(
                {"key": f"k{i}", "request": {"contents": [{"parts": [{"text": f"fox {i}"}]}]}}
            )
            for i in range(3)
        )
        src = c.files.upload(
            file=io.BytesIO(lines.encode()), config=types.UploadFileConfig(mime_type="jsonl")
        )
        job = c.batches.create(model=MODEL, src=src.name)
        clock.advance(31)
        done = c.batches.get(name=job.name)
        assert done.state == types.JobState.JOB_STATE_SUCCEEDED
        results = [
            json.loads(line)
            for line in c.files.download(file=done.dest.file_name).decode().splitlines()
        ]
        assert [r["key"] for r in results] == ["k0", "k1", "k2"]
        assert all(r["response"]["candidates"][0]["finishReason"] == "STOP" for r in results)

    def test_cancel_list_and_failed_job(self, client, clock) -> None:
        server, c = client
        src = [{"contents": [{"role": "user", "parts": [{"text": "a fox"}]}]}]
        cancelled = c.batches.create(model=MODEL, src=src)
        c.batches.cancel(name=cancelled.name)
        server.fail_next_batch("quota exhausted for batch")
        failed = c.batches.create(model=MODEL, src=src)
        clock.advance(31)
        assert c.batches.get(name=cancelled.name).state == types.JobState.JOB_STATE_CANCELLED
        assert c.batches.get(name=failed.name).state == types.JobState.JOB_STATE_FAILED
        assert {j.name for j in c.batches.list()} == {cancelled.name, failed.name}
        c.batches.delete(name=failed.name)
        with pytest.raises(errors.ClientError):
            c.batches.get(name=failed.name)


def test_pytest_plugin_fixture_is_reset(fake_gemini: FakeGemini) -> None:
    assert fake_gemini.requests == []
    fake_gemini.push(Fault.unavailable())  # left behind on purpose: the next test must not see it
