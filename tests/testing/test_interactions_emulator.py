"""The emulator's Interactions API, driven by google-genai's own ``client.interactions``."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from google import genai
from google.genai import _interactions_errors as ierrors

from nanobanana.testing import FakeGemini, Fault, ManualClock

PRO = "gemini-3-pro-image"


def _client(server: FakeGemini) -> genai.Client:
    # attempts=1: google-genai's interactions client otherwise retries 5xx and 429 itself,
    # with real sleeps.
    options = {"base_url": server.url, "retry_options": {"attempts": 1}}
    return genai.Client(api_key="test", http_options=options)


@pytest.fixture
def client(fake_gemini: FakeGemini) -> Iterator[genai.Client]:
    c = _client(fake_gemini)
    yield c
    c.close()


def _image(interaction: object) -> dict[str, object]:
    steps = interaction.steps  # type: ignore[attr-defined]
    out = [s for s in steps if s.type == "model_output"][-1]
    return next(c for c in out.content if c.type == "image").model_dump()


def test_create_answers_an_image_of_the_size_asked(
    fake_gemini: FakeGemini, client: genai.Client
) -> None:
    import io

    from PIL import Image

    r = client.interactions.create(
        model=PRO, input="a red fox in snow",
        response_format={"type": "image", "aspect_ratio": "16:9", "image_size": "1K"},
    )  # fmt: skip
    assert r.status == "completed" and r.id
    image = _image(r)
    assert image["mime_type"] == "image/jpeg"
    with Image.open(io.BytesIO(base64.b64decode(image["data"]))) as im:
        assert im.size == (1376, 768)
    assert r.usage is not None and r.usage.total_output_tokens == 1120
    assert r.usage.total_thought_tokens and r.usage.total_tokens
    sent = fake_gemini.requests[-1]
    assert sent.path == "/v1/interactions"
    assert sent.body["response_format"] == {
        "aspect_ratio": "16:9", "image_size": "1K", "type": "image",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"response_format": {"type": "image", "aspectRatio": "1:1"}},
         'Invalid JSON payload received. Unknown name "aspectRatio" at \'response_format\': '
         "Cannot find field."),
        ({"extra_body": {"responseFormat": {"type": "image"}}},
         'Invalid JSON payload received. Unknown name "responseFormat": Cannot find field.'),
        ({"generation_config": {"image_size": "1K"}},
         'Unknown name "image_size" at \'generation_config\''),
        ({"response_format": {"type": "image", "image_size": "2k"}},
         "Invalid value for image_size: '2k' for models/gemini-3-pro-image"),
        ({"response_format": {"type": "image", "image_size": "512"}},
         "Invalid value for image_size: '512' for models/gemini-3-pro-image"),
        ({"response_format": {"type": "image", "aspect_ratio": "1:8"}},
         "aspect_ratio must be one of '1:1'"),  # generateContent's field violation
        ({"response_format": {"type": "image", "delivery": "email"}},
         "Invalid value at 'response_format.delivery'"),
        ({"background": True, "store": False}, "background=true requires store=true."),
    ],
)  # fmt: skip
def test_bad_fields_are_refused_in_the_apis_words(
    client: genai.Client, body: dict[str, object], message: str
) -> None:
    with pytest.raises(ierrors.BadRequestError) as caught:
        client.interactions.create(model=PRO, input="a fox", **body)
    assert message in caught.value.body["error"]["message"]  # type: ignore[index]


def test_per_model_rules_follow_the_model(client: genai.Client) -> None:
    r = client.interactions.create(
        model="gemini-3.1-flash-image", input="a tall tower",
        response_format={"type": "image", "aspect_ratio": "1:8", "image_size": "512"},
    )  # fmt: skip
    assert r.status == "completed"
    with pytest.raises(ierrors.NotFoundError, match="gemini-3-pro-image-preview"):
        client.interactions.create(model="gemini-3-pro-image-preview", input="a fox")


def test_a_stored_turn_sends_only_itself(fake_gemini: FakeGemini, client: genai.Client) -> None:
    first = client.interactions.create(model=PRO, input="a red fox")
    photo = base64.b64encode(_photo()).decode()
    second = client.interactions.create(
        model=PRO, previous_interaction_id=first.id,
        input=[{"type": "text", "text": "put this hat on it"},
               {"type": "image", "data": photo, "mime_type": "image/jpeg"}],
    )  # fmt: skip
    assert second.previous_interaction_id == first.id
    sizes = [r.size for r in fake_gemini.requests if r.path.endswith("/interactions")]
    assert sizes[1] < len(photo) + 2_000  # the new turn alone, no earlier answer
    # The stored answer counts: the second turn's input tokens include the first image.
    assert second.usage.total_input_tokens > first.usage.total_input_tokens + 500
    assert client.interactions.get(first.id).id == first.id


def test_unknown_or_unstored_previous_interaction_is_404(client: genai.Client) -> None:
    with pytest.raises(ierrors.NotFoundError, match="Interaction nope not found"):
        client.interactions.create(model=PRO, input="a fox", previous_interaction_id="nope")
    unstored = client.interactions.create(model=PRO, input="a fox", store=False)
    with pytest.raises(ierrors.NotFoundError):
        client.interactions.get(unstored.id)


def test_stored_interactions_expire(client: genai.Client) -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock, sleep=clock.sleep) as server:
        c = _client(server)
        first = c.interactions.create(model=PRO, input="a fox")
        clock.advance(server.interactions.stored_seconds + 1)
        with pytest.raises(ierrors.NotFoundError):
            c.interactions.create(model=PRO, input="again", previous_interaction_id=first.id)
        c.close()


def test_uri_delivery_links_to_media_that_expires() -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock, sleep=clock.sleep) as server:
        c = _client(server)
        r = c.interactions.create(
            model=PRO, input="a fox", response_format={"type": "image", "delivery": "uri"}
        )
        image = _image(r)
        assert image.get("data") is None and str(image["uri"]).startswith(server.url)
        got = httpx.get(str(image["uri"]), headers={"x-goog-api-key": "test"})
        assert got.status_code == 200 and got.content[:2] == b"\xff\xd8"
        clock.advance(server.interactions.media_seconds + 1)
        gone = httpx.get(str(image["uri"]), headers={"x-goog-api-key": "test"})
        assert gone.status_code == 404 and "expired" in gone.json()["error"]["message"]
        c.close()


def test_background_is_in_progress_until_the_latency_has_passed() -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock, sleep=clock.sleep, latency={"4K": 90.0}) as server:
        c = _client(server)
        r = c.interactions.create(
            model=PRO, input="a fox", background=True,
            response_format={"type": "image", "image_size": "4K"},
        )  # fmt: skip
        assert r.status == "in_progress" and not r.steps
        assert c.interactions.get(r.id).status == "in_progress"
        clock.advance(91)
        done = c.interactions.get(r.id)
        assert done.status == "completed" and _image(done)["data"]
        c.close()


def test_stream_sends_each_step(client: genai.Client) -> None:
    events = list(
        client.interactions.create(
            model=PRO, input="a fox", stream=True, generation_config={"thinking_summaries": "auto"}
        )
    )
    kinds = [e.event_type for e in events]
    assert kinds[0] == "interaction.created" and kinds[-1] == "interaction.completed"
    deltas = [e.delta.type for e in events if e.event_type == "step.delta"]
    assert "image" in deltas and "thought_signature" in deltas and "thought_summary" in deltas


def test_faults_apply_as_on_generate_content(fake_gemini: FakeGemini, client: genai.Client) -> None:
    fake_gemini.push(Fault.unavailable())
    with pytest.raises(ierrors.InternalServerError) as caught:
        client.interactions.create(model=PRO, input="a fox")
    assert caught.value.status_code == 503
    fake_gemini.push(Fault.rate_limit(retry_delay=17))
    with pytest.raises(ierrors.RateLimitError) as limited:
        client.interactions.create(model=PRO, input="a fox")
    assert "RetryInfo" in str(limited.value.body)
    fake_gemini.push(Fault.safety("IMAGE_SAFETY"))
    r = client.interactions.create(model=PRO, input="a fox")
    assert r.errors and r.errors[0].code == "IMAGE_SAFETY"


def test_realistic_answers_are_live_sized() -> None:
    with FakeGemini(realistic=True, time_scale=0) as server:
        got = httpx.post(
            f"{server.url}/v1/interactions", json={"model": PRO, "input": "a fox"},
            headers={"x-goog-api-key": "test"}, timeout=60,
        )  # fmt: skip
    assert got.status_code == 200
    # One 1K answer is 2.4-4.2 MB live, its thought signatures included (FACTS).
    assert 1_500_000 < len(got.content) < 5_000_000
    assert len(got.json()["steps"][0]["signature"]) > 600_000


def _photo() -> bytes:
    from nanobanana.testing import sample_photo

    return sample_photo()
