"""One contract, two sides: the same checks pass on live answers and on the emulator's.

(a) the emulator answers each case's request; (b) the live body recorded for the case (FACTS'
shapes and wording, in ``live_bodies.json``) and any cassette recorded with a real key under
``tests/cassettes/*.json`` go through the very same checks. A check that failed on either side
would mean the emulator and the API disagree.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nanobanana.testing import FakeGemini, Fault
from tests.testing.helpers import call

HERE = Path(__file__).parent
CASES = json.loads((HERE / "live_bodies.json").read_text())["cases"]
CASSETTES = HERE.parent / "cassettes"

Check = Callable[[int, Any, dict[str, Any]], None]
CHECKS: dict[str, Check] = {}


def check(fn: Check) -> Check:
    CHECKS[fn.__name__] = fn
    return fn


def _types(error: dict[str, Any]) -> list[str]:
    return [d["@type"].rsplit(".", 1)[-1] for d in error.get("details", [])]


def _error_shape(status: int, body: Any) -> dict[str, Any]:
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == status and isinstance(error["message"], str) and error["status"]
    assert set(error) <= {"code", "message", "status", "details"}
    return error


@check
def error_exact(status: int, body: Any, case: dict[str, Any]) -> None:
    live = case["live"]["body"]["error"]
    error = _error_shape(status, body)
    assert (status, error["status"], error["message"]) == (
        case["live"]["status"], live["status"], live["message"]
    )  # fmt: skip
    assert _types(error) == _types(live)


@check
def bad_key(status: int, body: Any, case: dict[str, Any]) -> None:
    error_exact(status, body, case)
    info, localized = body["error"]["details"]
    assert info["reason"] == "API_KEY_INVALID"
    assert localized["message"] == body["error"]["message"]


@check
def limit_zero(status: int, body: Any, case: dict[str, Any]) -> None:
    error = _error_shape(status, body)
    assert status == 429 and error["status"] == "RESOURCE_EXHAUSTED"
    assert sorted(_types(error)) == ["Help", "QuotaFailure", "RetryInfo"]
    details = {t: d for t, d in zip(_types(error), error["details"], strict=True)}
    violations = details["QuotaFailure"]["violations"]
    assert len(violations) == 2 and all(v["quotaId"].endswith("-FreeTier") for v in violations)
    assert not any("quotaValue" in v for v in violations)  # limit: 0 is in the message only
    assert {v["quotaId"].split("PerDay")[0].split("PerModel")[0] for v in violations} == {
        "GenerateRequests", "GenerateContentInputTokens"
    }  # fmt: skip
    assert error["message"].count("limit: 0") == 2
    assert error["message"].endswith("Please retry in 47.17s.")
    assert details["RetryInfo"]["retryDelay"] == "47s"
    assert details["Help"]["links"][0]["url"].startswith("https://ai.google.dev/")
    tokens_first = "Tokens" in violations[0]["quotaId"]
    assert tokens_first == case["name"].endswith("tokens_first")


def _candidate(status: int, body: Any) -> dict[str, Any]:
    assert status == 200
    assert {"candidates", "usageMetadata", "modelVersion", "responseId"} <= set(body)
    (candidate,) = body["candidates"]
    return candidate


def _usage(usage: dict[str, Any]) -> None:
    parts = ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount")
    assert usage["totalTokenCount"] == sum(usage.get(k, 0) for k in parts)


@check
def image_answer(status: int, body: Any, case: dict[str, Any]) -> None:
    candidate = _candidate(status, body)
    assert candidate["finishReason"] == "STOP"
    parts = [p for p in candidate["content"]["parts"] if not p.get("thought")]
    layout = ["text" if "text" in p else "image" for p in parts]
    assert layout in (["text", "image"], ["image"])  # the two layouts seen live
    modalities = case["request"]["body"]["generationConfig"]["responseModalities"]
    if modalities == ["IMAGE"]:
        assert layout == ["image"]
    assert all("thoughtSignature" in p for p in parts)
    image = parts[-1]["inlineData"]
    assert image["mimeType"] == "image/jpeg"
    assert base64.b64decode(image["data"])[:3] == b"\xff\xd8\xff"
    usage = body["usageMetadata"]
    _usage(usage)
    # Pro lists only IMAGE, even when text came back (FACTS 2026-12-04).
    assert usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 1120}]


@check
def blocked(status: int, body: Any, case: dict[str, Any]) -> None:
    assert status == 200 and "candidates" not in body
    assert body["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT"
    assert "candidatesTokenCount" not in body["usageMetadata"]  # google-genai gives None
    assert "thoughtsTokenCount" not in body["usageMetadata"]


@check
def no_image(status: int, body: Any, case: dict[str, Any]) -> None:
    candidate = _candidate(status, body)
    assert candidate["finishReason"] == "NO_IMAGE" and candidate["content"] == {}
    usage = body["usageMetadata"]
    assert "candidatesTokenCount" not in usage and "thoughtsTokenCount" not in usage
    _usage(usage)


@check
def no_output_count(status: int, body: Any, case: dict[str, Any]) -> None:
    """IMAGE_SAFETY: no image, and no candidatesTokenCount at all."""
    candidate = _candidate(status, body)
    assert candidate["finishReason"] == "IMAGE_SAFETY" and candidate["finishMessage"]
    assert "candidatesTokenCount" not in body["usageMetadata"]
    _usage(body["usageMetadata"])


@check
def field_violation(status: int, body: Any, case: dict[str, Any]) -> None:
    error_exact(status, body, case)
    live = case["live"]["body"]["error"]["details"][0]["fieldViolations"]
    assert body["error"]["details"][0]["fieldViolations"] == live


@check
def top_level_field(status: int, body: Any, case: dict[str, Any]) -> None:
    """An unknown top-level name: its violation has no ``field`` key."""
    error_exact(status, body, case)
    (violation,) = body["error"]["details"][0]["fieldViolations"]
    assert set(violation) == {"description"}


@check
def retry_delay(status: int, body: Any, case: dict[str, Any]) -> None:
    """The text gives the delay to the nanosecond; RetryInfo in whole seconds."""
    error = _error_shape(status, body)
    assert status == 429 and error["message"].endswith("Please retry in 17.395510932s.")
    details = {t: d for t, d in zip(_types(error), error["details"], strict=True)}
    assert details["RetryInfo"]["retryDelay"] == "17s"
    assert _types(error) == _types(case["live"]["body"]["error"])


@check
def count_image_tokens(status: int, body: Any, case: dict[str, Any]) -> None:
    """An input image counts about 1,065-1,101 tokens on Gemini 3, whatever its pixels (8x8)."""
    assert status == 200
    details = {d["modality"]: d["tokenCount"] for d in body["promptTokensDetails"]}
    assert 1065 <= details["IMAGE"] <= 1101
    assert body["totalTokens"] == sum(details.values())


@check
def image_tokens(status: int, body: Any, case: dict[str, Any]) -> None:
    """Output tokens of one image as the model bills them at the size asked."""
    candidate = _candidate(status, body)
    assert candidate["finishReason"] == "STOP"
    usage = body["usageMetadata"]
    _usage(usage)
    tokens = case["expect"]["tokens"]
    assert usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": tokens}]


@check
def vertex_shape(status: int, body: Any, case: dict[str, Any]) -> None:
    """Vertex adds createTime and trafficType, and has no candidates[].index."""
    assert status == 200 and isinstance(body["createTime"], str)
    assert body["createTime"].endswith("Z") and "T" in body["createTime"]
    (candidate,) = body["candidates"]
    assert "index" not in candidate and candidate["finishReason"] == "STOP"
    assert body["usageMetadata"]["trafficType"] == "ON_DEMAND"
    _usage(body["usageMetadata"])


@check
def models_page(status: int, body: Any, case: dict[str, Any]) -> None:
    """One page of every model, text ones too; clients filter by what they make."""
    assert status == 200 and len(body["models"]) == 2 and body["nextPageToken"]
    for model in body["models"]:
        assert model["name"].startswith("models/") and model["supportedGenerationMethods"]


@check
def prohibited(status: int, body: Any, case: dict[str, Any]) -> None:
    candidate = _candidate(status, body)
    assert candidate["finishReason"] == "IMAGE_PROHIBITED_CONTENT"
    assert candidate["content"] == {"role": "model"} and candidate["finishMessage"]


@check
def grounded(status: int, body: Any, case: dict[str, Any]) -> None:
    candidate = _candidate(status, body)
    assert [("inlineData" in p) for p in candidate["content"]["parts"]] == [True]
    meta = candidate["groundingMetadata"]
    assert all(isinstance(q, str) for q in meta["webSearchQueries"])
    for chunk in meta["groundingChunks"]:
        assert chunk["web"]["uri"].startswith(
            "https://vertexaisearch.cloud.google.com/grounding-api-redirect/"
        )
        assert isinstance(chunk["web"]["title"], str)
    chip = meta["searchEntryPoint"]["renderedContent"]
    assert chip.startswith("<style>") and 'class="chip"' in chip and 3_000 < len(chip) < 8_000


@check
def count_tokens(status: int, body: Any, case: dict[str, Any]) -> None:
    assert status == 200 and isinstance(body["totalTokens"], int) and body["totalTokens"] > 0


@check
def model_entry(status: int, body: Any, case: dict[str, Any]) -> None:
    assert status == 200
    assert body["name"] == "models/gemini-3-pro-image"
    assert body["inputTokenLimit"] == 65536 and body["outputTokenLimit"] == 32768
    assert {"generateContent", "countTokens"} <= set(body["supportedGenerationMethods"])


@check
def stream(status: int, body: Any, case: dict[str, Any]) -> None:
    """Each image whole in one chunk; the last chunk an empty text part with finishReason."""
    assert status == 200 and isinstance(body, list) and len(body) >= 2
    *parts_chunks, last = body
    for chunk in parts_chunks:
        (candidate,) = chunk["candidates"]
        assert "finishReason" not in candidate
        for part in candidate["content"]["parts"]:
            if "inlineData" in part:
                assert base64.b64decode(part["inlineData"]["data"])[:3] == b"\xff\xd8\xff"
    (final,) = last["candidates"]
    assert final["content"]["parts"] == [{"text": ""}] and final["finishReason"] == "STOP"
    images = [p for c in parts_chunks for p in c["candidates"][0]["content"]["parts"]
              if "inlineData" in p]  # fmt: skip
    assert len(images) == 1
    counts = [c["usageMetadata"]["totalTokenCount"] for c in body]
    assert counts == sorted(counts) and counts[-1] > counts[0]  # the last one counts
    _usage(last["usageMetadata"])


def _sse(data: bytes) -> list[Any]:
    return [
        json.loads(line[6:]) for line in data.decode().splitlines() if line.startswith("data: ")
    ]


FAULTS = {
    "quota_zero": lambda: Fault.quota_zero(),
    "quota_zero_tokens_first": lambda: Fault.quota_zero(tokens_first=True),
    "deadline_expired": Fault.deadline_expired,
    "blocked": Fault.blocked,
    "no_image": Fault.no_image,
    "prohibited": lambda: Fault.safety("IMAGE_PROHIBITED_CONTENT"),
    "image_safety": lambda: Fault.safety("IMAGE_SAFETY"),
    "rate_limit": Fault.rate_limit,
}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_live_body_meets_the_contract(case: dict[str, Any]) -> None:
    CHECKS[case["check"]](case["live"]["status"], case["live"]["body"], case)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_emulator_meets_the_contract(case: dict[str, Any]) -> None:
    request = case["request"]
    with FakeGemini(api_keys=request.get("api_keys")) as server:
        if "fault" in request:
            server.push(FAULTS[request["fault"]]())
        status, body = call(
            server, request["path"], request.get("body"), method=request.get("method", "POST"),
            headers=request.get("headers"),
        )  # fmt: skip
    if isinstance(body, bytes):  # server-sent events
        body = _sse(body)
    CHECKS[case["check"]](status, body, case)


def unrecorded(kind: str | None = None) -> list[dict[str, Any]]:
    """The cases built from FACTS rather than recorded, for ``nox -s live`` to record.

    ``kind``: ``"free"`` (an error or a listing: nothing billed), ``"paid"`` (one image) or
    ``"fault"`` (recorded only when the API happens to answer so); ``None``: all.
    """
    return [c for c in CASES if not c["recorded"] and kind in (None, c["record"])]


def test_every_built_case_says_so_and_how_to_record_it() -> None:
    for case in CASES:
        assert isinstance(case["recorded"], bool), case["name"]
        if not case["recorded"]:
            assert case["built_from"].startswith("FACTS.md"), case["name"]
            assert case["record"] in ("free", "paid", "fault"), case["name"]
    assert {c["name"] for c in unrecorded("free")} >= {
        "bad_aspect_ratio", "two_candidates", "unknown_top_level_field", "models_list_page",
        "shut_down_model", "count_tokens_image",
    }  # fmt: skip


def _cassette_exchanges() -> list[tuple[str, dict[str, Any], int, Any]]:
    """(name, request, status, JSON body) of every recorded exchange, in any common layout."""
    found = []
    for path in sorted(CASSETTES.glob("**/*.json")) if CASSETTES.is_dir() else []:
        data = json.loads(path.read_text())
        items = data if isinstance(data, list) else data.get("interactions", [data])
        for i, item in enumerate(items):
            response = item.get("response", {})
            status = response.get("status", 200)
            status = status.get("code", 200) if isinstance(status, dict) else int(status)
            body = response.get("body")
            body = body.get("string", body) if isinstance(body, dict) and "string" in body else body
            if isinstance(body, str):
                try:
                    body = json.loads(body)
                except ValueError:
                    continue
            if isinstance(body, dict):
                found.append((f"{path.stem}[{i}]", item.get("request", {}), status, body))
    return found


def _shape(status: int, body: dict[str, Any]) -> None:
    """What every answer, live or emulated, must look like, whatever was asked."""
    if "error" in body:
        error = _error_shape(status, body)
        for detail in error.get("details", []):
            assert detail["@type"].startswith("type.googleapis.com/")
        if status == 429:
            assert "QuotaFailure" in _types(error)
        return
    assert status == 200
    if "candidates" in body:
        for candidate in body["candidates"]:
            assert "finishReason" in candidate or "content" in candidate
            for part in candidate.get("content", {}).get("parts", []):
                assert {"text", "inlineData", "inline_data", "fileData"} & set(part)
                if "inlineData" in part:
                    assert part["inlineData"]["mimeType"].startswith("image/")
        _usage(body["usageMetadata"])
    elif "promptFeedback" in body:
        assert body["promptFeedback"]["blockReason"]


def _recorded_cases() -> list[tuple[str, dict[str, Any], int, Any]]:
    """(case name, case, status, body) of each cassette `nox -s live` recorded for a case."""
    by_name = {c["name"]: c for c in CASES}
    found = []
    for path in sorted(CASSETTES.glob("contract-*.json")) if CASSETTES.is_dir() else []:
        data = json.loads(path.read_text())
        case = by_name.get(str(data.get("notes", {}).get("case")))
        if case is not None:
            response = data["response"]
            found.append((case["name"], case, int(response.get("status", 200)), response["body"]))
    return found


@pytest.mark.skipif(not _recorded_cases(), reason="no case recorded yet (nox -s live)")
@pytest.mark.parametrize("recorded", _recorded_cases(), ids=lambda r: r[0])
def test_a_recorded_case_meets_its_check(recorded: tuple[str, dict[str, Any], int, Any]) -> None:
    """What a live run recorded for a case built from FACTS passes that case's check."""
    _, case, status, body = recorded
    CHECKS[case["check"]](status, body, case)


@pytest.mark.skipif(not CASSETTES.is_dir(), reason="no tests/cassettes (record with nox -s live)")
@pytest.mark.parametrize("exchange", _cassette_exchanges(), ids=lambda e: e[0])
def test_cassettes_and_emulator_share_a_shape(exchange: tuple[str, dict, int, Any]) -> None:
    _, request, status, body = exchange
    _shape(status, body)
    path = request.get("path") or request.get("uri", "")
    path = "/" + path.split("://", 1)[-1].split("/", 1)[-1] if "://" in path else path
    raw = request.get("body")
    raw = raw.get("string", raw) if isinstance(raw, dict) and "string" in raw else raw
    if ":generateContent" not in path or not raw:
        return
    sent = json.loads(raw) if isinstance(raw, str) else raw
    with FakeGemini() as server:
        replay_status, replay = call(server, path.split("?")[0], sent)
    if status == 200:  # the emulator accepts what the API accepted
        assert replay_status == 200, replay
    _shape(replay_status, replay)
