"""The core's decisions as case tables: error mapping, retry decisions, twin parity."""

from __future__ import annotations

import inspect
import io

import httpx2 as httpx
import pytest
from google.genai import errors as genai_errors

import nanobanana
from nanobanana import (
    APIConnectionError,
    APITimeoutError,
    AsyncBatches,
    AsyncBatchJob,
    AsyncNanoBanana,
    AsyncSession,
    AsyncStream,
    BadRequestError,
    Batches,
    BatchJob,
    BatchJobError,
    NanoBanana,
    NotFoundError,
    PermissionDeniedError,
    QuotaExhaustedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Session,
    Stream,
)
from nanobanana._errors import batch_state_error, map_error, translating

RETRY_INFO = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "47s"}
HELP = {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"url": "https://ai.google.dev"}]}
PER_DAY = {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
           "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}  # fmt: skip
PER_MINUTE_TOKENS = {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
                     "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier"}  # fmt: skip
PER_MINUTE = {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel", "quotaValue": "20"}
LIMIT_0 = ("You exceeded your current quota, please check your plan and billing details. "
           "* Quota exceeded for metric: generativelanguage.googleapis.com/"
           "generate_content_free_tier_requests, limit: 0, model: gemini-3-pro-image\n"
           "Please retry in 47.17s.")  # fmt: skip


def quota_failure(*violations):
    return {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": list(violations)}


def genai_error(code, status, message, details=()):
    body = {"error": {"code": code, "status": status, "message": message, "details": list(details)}}
    cls = genai_errors.ClientError if code < 500 else genai_errors.ServerError
    return cls(code, body)


@pytest.mark.parametrize(
    ("exc", "expected", "attrs"),
    [
        (genai_error(400, "INVALID_ARGUMENT", "bad"), BadRequestError, {"code": 400}),
        (genai_error(403, "PERMISSION_DENIED", "no"), PermissionDeniedError, {}),
        (genai_error(404, "NOT_FOUND", "models/x is not found"), NotFoundError, {}),
        (genai_error(503, "UNAVAILABLE", "The model is overloaded."), ServerError, {"code": 503}),
        (genai_error(504, "DEADLINE_EXCEEDED", "late"), ServerError, {}),
        (genai_error(429, "RESOURCE_EXHAUSTED", "slow down", [quota_failure(PER_MINUTE), RETRY_INFO]),
         RateLimitError, {"retry_delay": 47.0, "quota": PER_MINUTE["quotaId"]}),
        # the live limit: 0 answer, its violations in either order: never worth a retry
        (genai_error(429, "RESOURCE_EXHAUSTED", LIMIT_0,
                     [quota_failure(PER_DAY, PER_MINUTE_TOKENS), RETRY_INFO, HELP]),
         QuotaExhaustedError, {}),
        (genai_error(429, "RESOURCE_EXHAUSTED", LIMIT_0,
                     [quota_failure(PER_MINUTE_TOKENS, PER_DAY), RETRY_INFO, HELP]),
         QuotaExhaustedError, {"quota": f"{PER_DAY['quotaId']}, {PER_MINUTE_TOKENS['quotaId']}"}),
        (genai_error(429, "RESOURCE_EXHAUSTED", "limit: 0", [RETRY_INFO]), QuotaExhaustedError, {}),
        (httpx.ConnectError("refused"), APIConnectionError, {}),
        (httpx.ReadTimeout("slow"), APITimeoutError, {}),
        (httpx.RemoteProtocolError("cut"), APIConnectionError, {}),
        (TimeoutError("builtin"), APITimeoutError, {}),
        (ConnectionResetError("reset"), APIConnectionError, {}),
    ],
)  # fmt: skip
def test_error_mapping(exc, expected, attrs) -> None:
    ours = map_error(exc)
    assert type(ours) is expected
    for name, value in attrs.items():
        assert getattr(ours, name) == value
    with pytest.raises(expected) as caught, translating():
        raise exc
    assert caught.value.__cause__ is exc


@pytest.mark.parametrize("exc", [ValueError("a bug"), KeyError("k"), RuntimeError("x")])
def test_bugs_are_not_mapped(exc) -> None:
    assert map_error(exc) is None
    with pytest.raises(type(exc)), translating():
        raise exc


@pytest.mark.parametrize(
    ("state", "waited", "match"),
    [
        ("JOB_STATE_SUCCEEDED", None, None),
        ("JOB_STATE_FAILED", None, "is JOB_STATE_FAILED, not JOB_STATE_SUCCEEDED: no results"),
        ("JOB_STATE_CANCELLED", None, "no results"),
        ("JOB_STATE_EXPIRED", None, "no results"),
        ("JOB_STATE_RUNNING", None, "not done yet: call wait"),
        ("JOB_STATE_PENDING", 30.0, "still JOB_STATE_PENDING after 30 s"),
    ],
)
def test_batch_states(state, waited, match) -> None:
    error = batch_state_error("batches/1", state, waited=waited)
    if match is None:
        assert error is None
    else:
        assert isinstance(error, BatchJobError) and error.state == state
        assert match in str(error)


RATE = RateLimitError("slow", retry_delay=17.0)
OVERLOADED = ServerError("overloaded", code=503)
DROPPED = APIConnectionError("dropped")


@pytest.mark.parametrize(
    ("error", "attempt", "elapsed", "idempotent", "expected"),
    [
        (RATE, 1, 0, True, 17.0),  # the server's retryDelay, as it said
        (RateLimitError("slow", retry_delay=None), 1, 0, True, 2.0),
        (OVERLOADED, 1, 0, True, 2.0),
        (OVERLOADED, 3, 0, True, 8.0),  # doubling
        (OVERLOADED, 5, 0, True, None),  # attempts used up
        (OVERLOADED, 2, 599, True, None),  # past the deadline
        (ServerError("internal", code=500), 1, 0, True, 2.0),
        (ServerError("not implemented", code=501), 1, 0, True, None),
        (DROPPED, 1, 0, True, 2.0),
        (DROPPED, 1, 0, False, None),  # a batch job might exist already: never twice
        (RATE, 1, 0, False, 17.0),  # a 429 means it was not done: safe to retry
        (QuotaExhaustedError("per day", quota="PerDay"), 1, 0, True, None),
        (BadRequestError("bad", code=400), 1, 0, True, None),
        (NotFoundError("gone", code=404), 1, 0, True, None),
    ],
)
def test_retry_decision(error, attempt, elapsed, idempotent, expected) -> None:
    policy = RetryPolicy(jitter=0)
    assert policy.next_delay(error, attempt, elapsed, idempotent=idempotent) == expected


TWINS = [
    (NanoBanana, AsyncNanoBanana),
    (Session, AsyncSession),
    (BatchJob, AsyncBatchJob),
    (Batches, AsyncBatches),
    (Stream, AsyncStream),
]
ALLOWED_APART = {"close", "aclose", "__enter__", "__exit__", "__aenter__", "__aexit__",
                 "__iter__", "__aiter__"}  # fmt: skip


def public(cls) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") or name in ALLOWED_APART
    }


@pytest.mark.parametrize(("sync", "twin"), TWINS, ids=lambda c: c.__name__)
def test_twins_have_the_same_surface(sync, twin) -> None:
    mine, theirs = public(sync), public(twin)
    assert set(mine) - ALLOWED_APART == set(theirs) - ALLOWED_APART
    for name in set(mine) - ALLOWED_APART:
        a, b = mine[name], theirs[name]
        assert isinstance(a, property) == isinstance(b, property), name
        if callable(a) and not isinstance(a, type):
            pa = list(inspect.signature(a).parameters.values())
            pb = list(inspect.signature(b).parameters.values())
            assert [(p.name, p.kind, p.default) for p in pa] == [
                (p.name, p.kind, p.default) for p in pb
            ], name


def test_public_parameters_are_typed() -> None:
    """At most 5 parameters typed Any across the public surface."""
    loose = []
    for name in nanobanana.__all__:
        obj = getattr(nanobanana, name)
        members = inspect.getmembers(obj, callable) if isinstance(obj, type) else [(name, obj)]
        for member_name, member in members:
            if member_name.startswith("_") and member_name != "__init__":
                continue
            if not (getattr(member, "__module__", None) or "").startswith("nanobanana"):
                continue  # inherited from pydantic or the standard library
            try:
                hints = inspect.signature(member).parameters.values()
            except (TypeError, ValueError):
                continue
            loose += [
                f"{name}.{member_name}({p.name})"
                for p in hints
                if p.annotation in ("Any", "typing.Any") and p.kind is not p.VAR_KEYWORD
            ]
    assert len(set(loose)) <= 5, sorted(set(loose))


def test_a_file_object_reference_is_read_once(fake_gemini, nb, tmp_path) -> None:
    from tests.conftest import photo

    handle = io.BytesIO(photo(320, 240))
    result = nb.generate("a fox", references=[handle])
    assert result.image.metadata["reference_sha256"]
    report = nb.generate_many(
        [nanobanana.GenerationRequest("a cat", references=[io.BytesIO(photo(320, 240, seed=1))])],
        out_dir=tmp_path,
    )
    assert report.done == 1 and report.failed == 0, report.failures


def test_one_string_is_one_reference(fake_gemini, nb, tmp_path) -> None:
    from tests.conftest import photo

    path = tmp_path / "photo.jpg"
    path.write_bytes(photo(320, 240))
    nb.generate("a fox", references=str(path))
    nb.generate("a fox", references=path)
    nb.generate("a fox", references=None)
    sent = [r.body["contents"][0]["parts"] for r in fake_gemini.generate_requests]
    assert [len(parts) for parts in sent] == [2, 2, 1]


def test_models_merge_what_the_key_lists_with_the_registry(fake_gemini, nb) -> None:
    import asyncio

    listed = nb.models()
    ids = [m.id for m in listed]
    assert "gemini-3-pro-image" in ids
    pro = next(m for m in listed if m.id == "gemini-3-pro-image")
    assert pro.info is not None and pro.price_per_image and not pro.retired

    async def run():
        async with AsyncNanoBanana(api_key="test", base_url=fake_gemini.url) as client:
            return [m.id for m in await client.models()]

    assert asyncio.run(run()) == ids


def test_request_options_reach_the_wire(fake_gemini, nb) -> None:
    nb.generate("a fox at dusk", search=True, image_only=True, system_instruction="Be brief.",
                temperature=0.5, seed=7)  # fmt: skip
    body = fake_gemini.generate_requests[-1].body
    assert body["tools"] == [{"googleSearch": {}}]
    assert body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    assert body["generationConfig"]["seed"] == 7


def test_options_are_refused_before_sending(fake_gemini, nb) -> None:
    with pytest.raises(nanobanana.InvalidRequestError, match="Vertex"):
        nb.generate("a fox", output_format="png")
    with pytest.raises(nanobanana.InvalidRequestError, match="aspect"):
        nb.generate("a fox", aspect=("16:9"))  # type: ignore[call-arg]
    assert fake_gemini.generate_requests == []


def test_run_keys_of_0_1_still_resume() -> None:
    from nanobanana._runs.manifest import request_key

    # The key 0.1 gave this request: a manifest it wrote must still be found.
    assert request_key(nanobanana.GenerationRequest("a fox")) == "89f3b3317c9ed548663c57cb"
    assert (
        request_key(nanobanana.GenerationRequest("a fox", search=True))
        != "89f3b3317c9ed548663c57cb"
    )


def test_tenacity_kwargs_still_works_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="next_delay"):
        kwargs = RetryPolicy().tenacity_kwargs()
    assert kwargs["reraise"] is True


def test_search_reaches_every_entry_point(fake_gemini, nb, tmp_path) -> None:
    from nanobanana import Template

    session = nb.session()
    session.send("a fox", search=True)
    nb.generate_many(["an owl"], out_dir=tmp_path / "run", search=True)
    nb.batch.submit(["a cat"], search=True)
    grounded = Template.from_string("A {animal} in today's news", name="News")
    grounded.defaults = grounded.defaults.model_copy(update={"search": True})
    nb.generate(grounded(animal="heron"))
    bodies = [r.body for r in fake_gemini.requests if r.body and "contents" in r.body]
    batch = next(r.body for r in fake_gemini.requests if r.path.endswith(":batchGenerateContent"))
    line = batch["batch"]["inputConfig"]["requests"]["requests"][0]["request"]
    assert all(b.get("tools") == [{"googleSearch": {}}] for b in bodies) and len(bodies) == 3
    assert line["tools"] == [{"googleSearch": {}}]
    assert session.last.grounding is not None
