"""The emulator as the API is today (FACTS, "Added 2026-12-04"), seen through google-genai.

No-image bodies without ``candidatesTokenCount``; Pro's IMAGE-only token details; Nano Banana
2 billed by size; Vertex's shape; ``models.list`` in pages; streams whose thought parts come
over the latency, not all at its end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials

from nanobanana import NanoBanana, NoImageError, RetryPolicy, SafetyBlockedError
from nanobanana._models.registry import MODELS as REGISTRY
from nanobanana.testing import FakeGemini, Fault, ManualClock
from tests.conftest import raw_client

PRO, NB2 = "gemini-3-pro-image", "gemini-3.1-flash-image"


def image_config(ratio: str = "1:1", size: str | None = None) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=ratio, image_size=size),
    )


@pytest.mark.parametrize(
    ("fault", "thoughts"),
    [
        (Fault.no_image(), False),  # a recorded NO_IMAGE had no thoughts either
        (Fault.safety("IMAGE_SAFETY"), True),
        (Fault.blocked(), False),
    ],
    ids=["NO_IMAGE", "IMAGE_SAFETY", "blocked"],
)
def test_no_image_answers_carry_no_output_count(
    fake_gemini: FakeGemini, genai_client: genai.Client, fault: Fault, thoughts: bool
) -> None:
    fake_gemini.push(fault)
    usage = genai_client.models.generate_content(
        model=PRO, contents="a fox", config=image_config()
    ).usage_metadata
    assert usage is not None and usage.candidates_token_count is None  # as in production
    assert (usage.thoughts_token_count is not None) == thoughts
    assert usage.total_token_count == usage.prompt_token_count + (usage.thoughts_token_count or 0)


def test_the_sdk_prices_a_no_image_answer_without_a_type_error(fake_gemini: FakeGemini) -> None:
    fake_gemini.push(Fault.no_image(), Fault.safety("IMAGE_SAFETY"))
    with NanoBanana(api_key="k", base_url=fake_gemini.url, retry=RetryPolicy.none()) as nb:
        with pytest.raises(NoImageError) as no_image:
            nb.generate("a fox")
        with pytest.raises(SafetyBlockedError) as unsafe:
            nb.generate("a fox")
    for result in (no_image.value.result, unsafe.value.result):
        assert "output_tokens" in result.usage.absent  # absent, not a silent 0
        assert result.usage.reported("output_tokens") is None
        assert result.cost is not None and result.cost > 0  # the prompt (and thinking) billed
    assert no_image.value.result.usage.thinking_tokens == 0


def test_pro_lists_only_image_tokens_even_with_text(genai_client: genai.Client) -> None:
    for prompt in (f"a fox number {i}" for i in range(12)):
        response = genai_client.models.generate_content(
            model=PRO, contents=prompt, config=image_config()
        )
        if any(p.text and not p.thought for p in response.parts or []):
            break
    else:
        pytest.fail("no answer with text among 12 prompts")
    usage = response.usage_metadata
    assert usage is not None and usage.candidates_token_count > 1120  # the text counts...
    details = [(d.modality, d.token_count) for d in usage.candidates_tokens_details or []]
    assert details == [(types.MediaModality.IMAGE, 1120)]  # ...but only IMAGE is listed


@pytest.mark.parametrize("size", ["512", "1K", "2K", "4K"])
def test_nano_banana_2_costs_what_production_bills(fake_gemini: FakeGemini, size: str) -> None:
    with NanoBanana(api_key="k", base_url=fake_gemini.url) as nb:
        result = nb.generate("a fox", model=NB2, size=size, aspect_ratio="1:1")
    pricing = REGISTRY[NB2].pricing
    assert pricing is not None
    assert result.usage.output_image_tokens == pricing.image_output_tokens[size]
    u = result.usage
    expected = (
        u.prompt_tokens * pricing.input_per_mtok
        + pricing.image_output_tokens[size] * pricing.image_output_per_mtok
        + (u.output_text_tokens + u.thinking_tokens) * pricing.text_output_per_mtok
    ) / 1e6
    assert result.cost == pytest.approx(expected)


def test_vertex_answers_in_vertex_shape(fake_gemini: FakeGemini) -> None:
    client = genai.Client(
        vertexai=True, project="p", location="us-central1", credentials=Credentials(token="t"),
        http_options=types.HttpOptions(base_url=fake_gemini.url),
    )  # fmt: skip
    response = client.models.generate_content(model=PRO, contents="a fox", config=image_config())
    assert response.create_time is not None
    assert response.usage_metadata is not None
    assert response.usage_metadata.traffic_type == types.TrafficType.ON_DEMAND
    assert response.candidates and response.candidates[0].index is None
    plain = raw_client(fake_gemini)
    gemini = plain.models.generate_content(model=PRO, contents="a fox")
    assert gemini.create_time is None and gemini.candidates and gemini.candidates[0].index == 0


def test_models_list_comes_in_pages_with_text_models(fake_gemini: FakeGemini) -> None:
    client = raw_client(fake_gemini)
    pager = client.models.list(config={"page_size": 2})
    assert len(pager.page) == 2
    names = [m.name for m in pager]  # the pager fetches the next pages
    assert len(names) > 4 and len(set(names)) == len(names)
    assert [r.query.get("pageToken") for r in fake_gemini.requests][1:] == ["2", "4"][
        : len(fake_gemini.requests) - 1
    ]
    text_only = [m for m in client.models.list() if "-image" not in (m.name or "")]
    assert text_only  # clients must filter: the SDK keeps the image models only
    with NanoBanana(api_key="k", base_url=fake_gemini.url) as nb:
        assert all("-image" in m.id for m in nb.models())


def test_candidate_count_above_one_is_refused(genai_client: genai.Client) -> None:
    from google.genai import errors

    with pytest.raises(errors.ClientError) as info:
        genai_client.models.generate_content(
            model=PRO, contents="a fox", config=types.GenerateContentConfig(candidate_count=2)
        )
    assert info.value.code == 400
    assert info.value.message == f"Multiple candidates is not enabled for models/{PRO}"


class _Gate:
    """A sleep that holds the emulator until the test has read, then advances a manual clock."""

    def __init__(self) -> None:
        self.clock = ManualClock(0.0)
        self.permits = threading.Semaphore(0)

    def sleep(self, seconds: float) -> None:
        self.permits.acquire(timeout=10)
        self.clock.sleep(seconds)


@pytest.fixture
def gated() -> Iterator[tuple[FakeGemini, _Gate]]:
    gate = _Gate()
    with FakeGemini(realistic=True, clock=gate.clock, sleep=gate.sleep) as server:
        yield server, gate


def test_a_realistic_stream_spreads_thoughts_over_its_latency(
    gated: tuple[FakeGemini, _Gate],
) -> None:
    """A thought image arrives well before the final image, which comes at the latency."""
    server, gate = gated
    config = types.GenerateContentConfig(
        response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="1:1"),
        thinking_config=types.ThinkingConfig(include_thoughts=True),
    )  # fmt: skip
    arrivals: list[tuple[float, str]] = []
    gate.permits.release()
    client = raw_client(server)
    for chunk in client.models.generate_content_stream(model=PRO, contents="a fox", config=config):
        for part in chunk.parts or []:
            kind = "thought" if part.thought else "final"
            arrivals.append((gate.clock(), f"{kind} {'image' if part.inline_data else 'text'}"))
        gate.permits.release()
    latency = max(t for t, _ in arrivals)
    assert 17 <= latency <= 29  # Pro at 1K, live
    first_thought_image = next(t for t, k in arrivals if k == "thought image")
    final_image = next(t for t, k in arrivals if k == "final image")
    assert first_thought_image < final_image / 2 and final_image == latency
    assert [t for t, _ in arrivals] == sorted(t for t, _ in arrivals)
