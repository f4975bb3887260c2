"""Real calls to the Gemini API, checked and recorded as cassettes (``nox -s live``).

Skipped without a key (see conftest.py). Each test records its HTTP exchanges; after the test
they are written, redacted, to tests/cassettes/<scenario>-<n>.json, where the contract suite
in tests/testing/ checks them the way it checks the emulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from google import genai
from google.genai import types

from nanobanana import AsyncNanoBanana, NanoBanana
from tests.live import cassettes
from tests.live.conftest import KEY, SKIP_REASON, Budget
from tests.testing.test_contract import unrecorded

pytestmark = [
    pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "enabled"),
    pytest.mark.enable_socket,  # these, and only these, reach Google
    pytest.mark.timeout(600),  # real latency, and a 429 may ask for a minute's wait
]

# Pixel sizes at 1K, as documented (FACTS), for the ratios used here.
SIZES_1K = {"1:1": (1024, 1024), "16:9": (1376, 768), "3:4": (896, 1200)}


class Recording:
    def __init__(self, scenario: str) -> None:
        self.scenario = scenario
        self.recorder = cassettes.Recorder(KEY)
        options = types.HttpOptions(
            timeout=180_000,
            client_args=self.recorder.client_args(),
            async_client_args=self.recorder.async_client_args(),
        )
        self.genai = genai.Client(api_key=KEY, http_options=options)

    @property
    def exchanges(self) -> list[dict[str, Any]]:
        return self.recorder.exchanges

    def save(self, **notes: Any) -> None:
        items = [
            cassettes.cassette(
                exchange, name=f"{self.scenario}-{i}", scenario=self.scenario, key=KEY, **notes
            )
            for i, exchange in enumerate(self.exchanges, 1)
        ]
        for path in cassettes.write(items, key=KEY):
            print(f"recorded {path.name}")


@pytest.fixture
def recording(request: pytest.FixtureRequest, budget: Budget) -> Iterator[Recording]:
    scenario = request.node.name.removeprefix("test_").replace("_", "-")
    rec = Recording(scenario)
    yield rec
    rec.save()


def _final_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    parts = body["candidates"][0]["content"]["parts"]
    return [p for p in parts if not p.get("thought")]


def _check_image_answer(exchange: dict[str, Any]) -> None:
    """What every image answer must hold, as the API documents it."""
    assert exchange["response"]["status"] == 200
    body = exchange["response"]["body"]
    candidate = body["candidates"][0]
    assert candidate["finishReason"] == "STOP"
    images = [p for p in _final_parts(body) if "inlineData" in p]
    assert images, "no final image part"
    assert images[-1]["inlineData"]["mimeType"] in {"image/jpeg", "image/png"}
    usage = body["usageMetadata"]
    assert usage["totalTokenCount"] >= usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert body.get("modelVersion") and body.get("responseId")


def test_pro_generate(recording: Recording, budget: Budget) -> None:
    budget.reserve("gemini-3-pro-image")
    nb = NanoBanana(genai_client=recording.genai)
    result = nb.generate(
        "A red fox curled up asleep in fresh snow, soft morning light",
        model="gemini-3-pro-image", aspect_ratio="1:1", size="1K", include_thoughts=True,
    )  # fmt: skip
    assert (result.image.width, result.image.height) == SIZES_1K["1:1"]
    assert result.image.mime_type == "image/jpeg"  # Pro answers JPEG
    assert result.image.thought_signature  # kept for the next turn
    (exchange,) = recording.exchanges
    _check_image_answer(exchange)
    assert exchange["request"]["body"]["generationConfig"]["imageConfig"]["imageSize"] == "1K"


def test_flash_generate(recording: Recording, budget: Budget) -> None:
    budget.reserve("gemini-3.1-flash-image")
    nb = NanoBanana(genai_client=recording.genai)
    result = nb.generate(
        "A small robot watering tomato plants on a balcony",
        model="gemini-3.1-flash-image", aspect_ratio="16:9", size="1K",
    )  # fmt: skip
    assert (result.image.width, result.image.height) == SIZES_1K["16:9"]
    _check_image_answer(recording.exchanges[-1])


def test_grounded_call(recording: Recording, budget: Budget) -> None:
    # Raw google-genai: the SDK's own `search=` lands separately.
    budget.reserve("gemini-3.1-flash-image", grounded=True)
    response = recording.genai.models.generate_content(
        model="gemini-3.1-flash-image",
        contents=["A weather poster for Lisbon showing today's forecast"],
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio="3:4", image_size="1K"),
            tools=[types.Tool(google_search=types.GoogleSearch())],
        ),
    )
    assert response.candidates
    (exchange,) = recording.exchanges
    assert exchange["request"]["body"]["tools"]
    _check_image_answer(exchange)
    grounding = exchange["response"]["body"]["candidates"][0].get("groundingMetadata")
    assert grounding, "a grounded answer without groundingMetadata"


def test_two_turn_edit(recording: Recording, budget: Budget) -> None:
    budget.reserve("gemini-3.1-flash-image", calls=2)
    nb = NanoBanana(genai_client=recording.genai)
    session = nb.session(model="gemini-3.1-flash-image", aspect_ratio="1:1", size="1K")
    session.send("A green felt hat on a wooden table")
    second = session.send("Now make the hat red")
    assert second.image.width == 1024
    first, follow = recording.exchanges[0], recording.exchanges[-1]
    _check_image_answer(first)
    _check_image_answer(follow)
    # The second turn sent the first answer back with its signatures, byte for byte.
    sent = follow["request"]["body"]["contents"]
    model_turns = [c for c in sent if c.get("role") == "model"]
    assert model_turns
    sent_signatures = [
        p.get("thoughtSignature") or p.get("thought_signature") for p in model_turns[0]["parts"]
    ]
    received = [p.get("thoughtSignature") for p in _final_parts(first["response"]["body"])]
    assert [s for s in received if s] and cassettes._b64decode(
        next(s for s in sent_signatures if s)
    ) == cassettes._b64decode(next(s for s in received if s))


def test_burst(recording: Recording, budget: Budget, tmp_path) -> None:
    """Six at once on the cheapest model: a 429 may come; it must be retried or named."""
    # 2.5 Flash Image was shut down on the Gemini API on 2026-10-02: the cheapest now is 2.
    budget.reserve("gemini-3.1-flash-image/512", calls=6)
    prompts = [
        f"A {c} paper boat on a pond" for c in ("red", "blue", "yellow", "green", "white", "black")
    ]

    async def burst() -> Any:
        async with AsyncNanoBanana(
            genai_client=recording.genai, model="gemini-3.1-flash-image"
        ) as nb:
            return await nb.generate_many(
                prompts, out_dir=tmp_path, concurrency=6, progress=False, size="512"
            )

    report = asyncio.run(burst())
    statuses = [e["response"]["status"] for e in recording.exchanges]
    assert report.done + report.failed == 6
    for exchange in recording.exchanges:
        if exchange["response"]["status"] == 429:
            details = exchange["response"]["body"]["error"].get("details", [])
            kinds = {d.get("@type", "").rsplit(".", 1)[-1] for d in details}
            assert kinds & {"QuotaFailure", "RetryInfo"}, kinds
    assert report.done >= 1, (statuses, report.failures)


@pytest.mark.parametrize("case", unrecorded("free"), ids=lambda c: c["name"])
def test_record_a_case_built_from_facts(case: dict[str, Any]) -> None:
    """Sends a contract case that costs nothing (an error, a listing, a count) as it stands in
    live_bodies.json, and records the answer as cassette ``contract-<name>``: the contract
    suite then checks it with the case's own check (test_contract.py)."""
    import httpx

    request = case["request"]
    recorder = cassettes.Recorder(KEY)
    with httpx.Client(
        base_url="https://generativelanguage.googleapis.com", timeout=60,
        # the bad-key case is about a key the API refuses: send one
        headers={"x-goog-api-key": "not-a-key" if "api_keys" in request else KEY,
                 **request.get("headers", {})},
        **recorder.client_args(),
    ) as http:  # fmt: skip
        http.request(request.get("method", "POST"), request["path"], json=request.get("body"))
    (exchange,) = recorder.exchanges
    scenario = f"contract-{case['name']}"
    item = cassettes.cassette(exchange, name=scenario, scenario=scenario, key=KEY,
                              case=case["name"])  # fmt: skip
    for path in cassettes.write([item], key=KEY):
        print(f"recorded {path.name}")
