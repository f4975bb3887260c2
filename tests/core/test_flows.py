"""Each flow driven on its own: send it answers, read the steps it yields (as httpx's
``tests/test_auth.py`` drives ``auth_flow`` in its own repository). No network, no driver, no clock but the policy's."""

from __future__ import annotations

import base64

import pytest
from google.genai import types

from nanobanana import GenerationRequest, NoImageError, RetryPolicy, ServerError
from nanobanana._batch.flows import Source, submit_flow
from nanobanana._core.flows import generate_flow
from nanobanana._core.steps import END, Emit, Next, Offload, Op, Sleep
from nanobanana._core.stream import stream_flow
from nanobanana._core.wire import build
from nanobanana.testing import ManualClock, sample_photo

JPEG = sample_photo(64, 48)
IMAGE_PART = {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(JPEG).decode()}}


def body(*parts: dict, finish: str = "STOP") -> dict:
    return {
        "candidates": [{"content": {"role": "model", "parts": list(parts)}, "finishReason": finish}]
    }


def chunk(*parts: dict, **candidate) -> types.GenerateContentResponse:
    return types.GenerateContentResponse.model_validate(
        {"candidates": [{"content": {"role": "model", "parts": list(parts)}, **candidate}]}
    )


@pytest.fixture
def policy() -> RetryPolicy:
    clock = ManualClock()
    return RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep, jitter=0)


def call():
    return build(GenerationRequest("a fox", seed=7), [])


def test_generate_flow_retries_a_503_then_parses_the_answer(policy) -> None:
    flow = generate_flow(call(), policy)
    op = next(flow)
    assert isinstance(op, Op) and op.method == "models.generate_content"
    assert op.kwargs["config"].seed == 7
    wait = flow.throw(ServerError("overloaded", code=503))
    assert isinstance(wait, Sleep) and wait.seconds == policy.initial_delay
    assert flow.send(None) == op  # the same call again
    with pytest.raises(StopIteration) as stop:
        flow.send(body(IMAGE_PART))
    assert stop.value.value.image.data == JPEG


def test_generate_flow_does_not_retry_an_answer_without_an_image(policy) -> None:
    flow = generate_flow(call(), policy)
    next(flow)
    with pytest.raises(NoImageError):
        flow.send(body({"text": "I cannot draw that."}, finish="NO_IMAGE"))


def test_stream_flow_retries_a_stream_cut_before_its_image(policy) -> None:
    flow = stream_flow(call(), policy)
    assert isinstance(next(flow), Op)
    assert isinstance(flow.send("stream-1"), Next)
    event = flow.send(chunk({"text": "thinking", "thought": True}))
    assert isinstance(event, Emit) and event.value.thought
    assert isinstance(flow.send(None), Next)
    assert isinstance(flow.throw(ServerError("cut", code=503)), Sleep)
    assert isinstance(flow.send(None), Op)  # a whole new stream


def test_stream_flow_keeps_an_image_that_came_before_the_cut(policy) -> None:
    flow = stream_flow(call(), policy)
    next(flow)
    flow.send("stream-1")
    assert isinstance(flow.send(chunk(IMAGE_PART)), Emit)
    assert isinstance(flow.send(None), Next)
    with pytest.raises(StopIteration) as stop:
        flow.throw(ServerError("cut", code=503))  # paid: kept, not bought again
    result = stop.value.value
    assert result.image.data == JPEG and "cut" in " ".join(result.problems)


def test_stream_flow_returns_when_the_stream_ends(policy) -> None:
    flow = stream_flow(call(), policy)
    next(flow)
    flow.send("stream-1")
    flow.send(chunk(IMAGE_PART))
    flow.send(None)
    with pytest.raises(StopIteration) as stop:
        flow.send(END)
    assert stop.value.value.image.data == JPEG


def test_submit_flow_uploads_creates_once_and_writes_only_through_offload(policy, tmp_path) -> None:
    from nanobanana._runs.manifest import Manifest

    manifest = Manifest(tmp_path / "manifest.jsonl")
    offloading = [False]
    append = manifest.append

    def checked_append(entry):
        assert offloading[0], "the flow wrote to disk itself"
        return append(entry)

    manifest.append = checked_append  # type: ignore[method-assign]
    answers = {
        "files.upload": types.File(name="files/abc"),
        "batches.create": types.BatchJob(name="batches/1", model="models/gemini-3-pro-image"),
    }
    flow = submit_flow(
        [Source("gemini-3-pro-image", ("k1",), b'{"key": "k1"}\n')], "run", policy, manifest
    )
    ops, value = [], None
    while True:
        try:
            step = flow.send(value)
        except StopIteration as stop:
            jobs = stop.value
            break
        if isinstance(step, Offload):
            offloading[0] = True
            value = step.fn(*step.args)
            offloading[0] = False
        else:
            ops.append(step)
            value = answers[step.method]
    assert [op.method for op in ops] == ["files.upload", "batches.create"]
    create = ops[1]
    assert create.kwargs["src"] == "files/abc" and create.idempotent is False  # never twice
    assert [j.name for j in jobs] == ["batches/1"]
    recorded = [e for e in Manifest(tmp_path / "manifest.jsonl").jobs]
    assert [(j["name"], j["keys"]) for j in recorded] == [("batches/1", ["k1"])]
