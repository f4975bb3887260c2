"""`NanoBanana(api="interactions")`: the second wire, sessions on server state, background calls."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanobanana import (
    AsyncNanoBanana,
    GeneratedImage,
    ImageExpiredError,
    InvalidRequestError,
    NanoBanana,
    QuotaExhaustedError,
    RetryPolicy,
    SafetyBlockedError,
    Session,
)
from nanobanana._core.interactions import (
    POLL_START,
    build_interaction,
    interaction_flow,
)
from nanobanana._core.steps import Op, Sleep
from nanobanana._request.request import GenerationRequest
from nanobanana.testing import FakeGemini, Fault, ManualClock, sample_photo

PRO = "gemini-3-pro-image"


def _policy(clock: ManualClock) -> RetryPolicy:
    return RetryPolicy(clock=clock, sleep=clock.sleep, asleep=clock.asleep, jitter=0)


@pytest.fixture
def nb(fake_gemini: FakeGemini, fake_gemini_clock: ManualClock) -> Iterator[NanoBanana]:
    with NanoBanana(
        api_key="test", base_url=fake_gemini.url, retry=_policy(fake_gemini_clock),
        api="interactions",
    ) as client:  # fmt: skip
        yield client


def _interaction_posts(server: FakeGemini) -> list[object]:
    return [r for r in server.requests if r.path.endswith("/interactions") and r.method == "POST"]


def test_generate_goes_through_interactions_into_the_same_result(
    fake_gemini: FakeGemini, nb: NanoBanana
) -> None:
    result = nb.generate("a red fox", aspect_ratio="16:9", size="2K", include_thoughts=True)
    assert (result.image.width, result.image.height) == (2752, 1536)
    assert result.finish_reason == "STOP" and result.thought_images
    assert result.usage.output_image_tokens == 1120 and result.usage.thinking_tokens > 0
    assert result.cost is not None and result.cost > 0.134
    assert result.response_id and result.response_id.startswith("v1_")
    (post,) = _interaction_posts(fake_gemini)
    assert post.body["response_format"] == [  # type: ignore[attr-defined]
        {"type": "text"}, {"type": "image", "aspect_ratio": "16:9", "image_size": "2K"},
    ]  # fmt: skip
    assert post.body["generation_config"] == {"thinking_summaries": "auto"}  # type: ignore[attr-defined]
    assert not fake_gemini.generate_requests


def test_references_options_and_search_are_sent(fake_gemini: FakeGemini, nb: NanoBanana) -> None:
    nb.generate(
        "this fox as a poster", references=[sample_photo(640, 480)], image_only=True,
        search=True, system_instruction="Be bold", seed=7,
    )  # fmt: skip
    (post,) = _interaction_posts(fake_gemini)
    body = post.body  # type: ignore[attr-defined]
    # google-genai sends a list of contents as one user_input step.
    (step,) = body["input"]
    assert [c["type"] for c in step["content"]] == ["text", "image"]
    assert body["response_format"] == [{"type": "image"}]
    assert body["tools"] == [{"type": "google_search", "search_types": ["web_search"]}]
    assert body["system_instruction"] == "Be bold" and body["generation_config"]["seed"] == 7


def test_bad_options_are_refused_before_sending(fake_gemini: FakeGemini, nb: NanoBanana) -> None:
    with pytest.raises(InvalidRequestError, match="Vertex AI only"):
        nb.generate("a fox", output_format="png")
    with pytest.raises(InvalidRequestError, match="api must be one of"):
        NanoBanana(api_key="k", api="interaction")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="need the Interactions API"):
        NanoBanana(api_key="k", background=True)
    with pytest.raises(InvalidRequestError, match="delivery must be 'inline' or 'uri'"):
        NanoBanana(api_key="k", api="interactions", delivery="url")  # type: ignore[arg-type]
    assert not fake_gemini.requests


def test_safety_and_faults_map_as_on_generate_content(
    fake_gemini: FakeGemini, nb: NanoBanana, fake_gemini_clock: ManualClock
) -> None:
    fake_gemini.push(Fault.unavailable(), Fault.rate_limit(retry_delay=17))
    assert nb.generate("a fox").image
    assert fake_gemini_clock.sleeps[-1] == 17  # the server's RetryInfo, on our clock
    assert len(_interaction_posts(fake_gemini)) == 3  # google-genai retried nothing itself
    fake_gemini.push(Fault.safety("IMAGE_SAFETY"))
    with pytest.raises(SafetyBlockedError) as blocked:
        nb.generate("a fox")
    assert blocked.value.reason == "IMAGE_SAFETY"
    assert "filtered out" in (blocked.value.result.finish_message or "")
    fake_gemini.push(Fault.quota_zero())
    with pytest.raises(QuotaExhaustedError):
        nb.generate("a fox")


def test_stream_emits_parts_and_ends_in_the_result(nb: NanoBanana) -> None:
    stream = nb.stream("a cat", include_thoughts=True)
    events = list(stream)
    assert any(e.thought for e in events) and any(e.image for e in events if not e.thought)
    assert stream.final().image.mime_type == "image/jpeg"


def test_async_twin_uses_the_same_wire(fake_gemini: FakeGemini) -> None:
    async def main() -> None:
        async with AsyncNanoBanana(
            api_key="t", base_url=fake_gemini.url, api="interactions"
        ) as anb:
            r = await anb.generate("a fox", size="1K")
            assert r.image and r.response_id
            s = anb.session()
            await s.send("a fox")
            await s.send("now blue")
            assert s.turns[-1].interaction_id

    asyncio.run(main())
    posts = _interaction_posts(fake_gemini)
    assert len(posts) == 3
    assert "previous_interaction_id" not in posts[1].body  # type: ignore[attr-defined]
    assert posts[2].body["previous_interaction_id"].startswith("v1_")  # type: ignore[attr-defined]


def test_twenty_turns_of_real_sized_answers_each_send_only_their_turn() -> None:
    clock = ManualClock()
    with FakeGemini(realistic=True, time_scale=0, clock=clock, sleep=clock.sleep) as server:
        with NanoBanana(
            api_key="t", base_url=server.url, api="interactions", retry=_policy(clock)
        ) as nb:
            session = nb.session(aspect_ratio="1:1")
            for n in range(20):
                session.send(f"turn {n}: make the hat a different colour")
        posts = _interaction_posts(server)
    assert len(posts) == 20 and len(session.turns) == 20
    sizes = [p.size for p in posts]  # type: ignore[attr-defined]
    assert max(sizes) < 1_000, sizes  # the prompt and an id, never the history
    ids = [t.interaction_id for t in session.turns]
    for post, previous in zip(posts[1:], ids[:-1], strict=True):
        assert post.body["previous_interaction_id"] == previous  # type: ignore[attr-defined]
    # What generateContent would have sent by turn 6: over the 20 MB wall.
    assert sum(len(t.result.parts[-1].thought_signature or b"") for t in session.turns[:6]) > 5e6


def test_undo_and_branch_continue_from_an_earlier_id(
    fake_gemini: FakeGemini, nb: NanoBanana
) -> None:
    session = nb.session()
    first = session.send("a fox").response_id
    second = session.send("give it a hat").response_id
    session.undo()
    session.send("give it a scarf")
    twin = session.branch()
    twin.undo()
    twin.send("give it boots")
    previous = [p.body.get("previous_interaction_id") for p in _interaction_posts(fake_gemini)]  # type: ignore[attr-defined]
    assert previous == [None, first, first, first]
    assert second not in previous


def test_saved_session_keeps_ids_and_resumes_without_history(
    fake_gemini: FakeGemini, nb: NanoBanana, tmp_path: Path
) -> None:
    session = nb.session()
    session.send("a fox", references=[sample_photo(640, 480)])
    last = session.send("in the snow").response_id
    path = session.save(tmp_path / "fox.session.json")
    doc = json.loads(path.read_text())
    assert doc["api"] == "interactions" and "55 days" in doc["interactions_kept_for"]
    assert doc["turns"][-1]["interaction_id"] == last
    resumed = Session.load(path, nb)
    resumed.send("at night")
    post = _interaction_posts(fake_gemini)[-1]
    assert post.body["previous_interaction_id"] == last  # type: ignore[attr-defined]
    assert post.size < 1_000  # type: ignore[attr-defined]
    with NanoBanana(api_key="t", base_url=fake_gemini.url) as plain:
        with pytest.raises(InvalidRequestError, match="stored interactions"):
            Session.load(path, plain).send("again")


def test_background_call_polls_on_the_policy_clock() -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock, sleep=clock.sleep, latency={"4K": 90.0}) as server:
        with NanoBanana(
            api_key="t", base_url=server.url, api="interactions", background=True,
            retry=_policy(clock),
        ) as nb:  # fmt: skip
            server.push(Fault.unavailable())  # the create is retried: nothing started
            result = nb.generate("a fox", size="4K", aspect_ratio="1:1")
        gets = [r for r in server.requests if r.method == "GET"]
    assert (result.image.width, result.image.height) == (4096, 4096)
    polls = clock.sleeps[1:]  # the first: the retry of the 503
    assert polls[0] == POLL_START and sum(polls) >= 90
    assert len(gets) == len(polls)


def test_background_flow_yields_its_steps_without_a_network() -> None:
    request = GenerationRequest("a fox", size="4K")
    call = build_interaction(request, [], background=True)
    flow = interaction_flow(call, RetryPolicy(clock=lambda: 0.0))
    step = next(flow)
    assert isinstance(step, Op) and step.method == "interactions.create"
    assert step.idempotent is False and step.kwargs["background"] is True
    running = {"id": "v1_x", "status": "in_progress"}
    assert flow.send(running) == Sleep(POLL_START)
    step = flow.send(None)
    assert isinstance(step, Op) and step.kwargs == {"id": "v1_x"}
    assert flow.send(running) == Sleep(POLL_START * 1.5)


# -- images by link (delivery="uri") -------------------------------------------------------


def _linked(server: FakeGemini, clock: ManualClock) -> NanoBanana:
    return NanoBanana(
        api_key="test-key-123", base_url=server.url, retry=_policy(clock), api="interactions",
        delivery="uri",
    )  # fmt: skip


def test_an_image_by_link_is_fetched_when_used(
    fake_gemini: FakeGemini, fake_gemini_clock: ManualClock, tmp_path: Path
) -> None:
    with _linked(fake_gemini, fake_gemini_clock) as nb:
        result = nb.generate("a fox", aspect_ratio="16:9", size="2K")
        image = result.image
        assert isinstance(image, GeneratedImage) and image.uri.startswith(fake_gemini.url)
        (post,) = _interaction_posts(fake_gemini)
        assert post.body["response_format"][-1]["delivery"] == "uri"  # type: ignore[attr-defined]
        assert not _media_gets(fake_gemini)  # nothing fetched until used
        assert (image.width, image.height) == (2752, 1536)  # from the head of the link
        path = image.save(tmp_path / "fox")
        assert path.suffix == ".jpg" and path.read_bytes()[:3] == b"\xff\xd8\xff"
        assert image.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert image.data == path.read_bytes()
        gets = _media_gets(fake_gemini)
        # The fetch is google-genai's request: the client's key header, toward the API's host.
        assert gets and all(g.headers.get("x-goog-api-key") == "<redacted>" for g in gets)  # type: ignore[attr-defined]
        assert result.cost is not None and result.response_id
        meta = json.loads(image.save(tmp_path / "fox2.jpg", metadata=True).with_suffix(
            ".jpg.json").read_text())  # fmt: skip
        assert meta["uri"] == image.uri and meta["width"] == 2752


def test_a_large_image_streams_to_disk_in_bounded_memory(tmp_path: Path) -> None:
    clock = ManualClock()
    with FakeGemini(realistic=True, time_scale=0, clock=clock, sleep=clock.sleep) as server:
        with _linked(server, clock) as nb:
            image = nb.generate("a city map", size="4K", aspect_ratio="1:1").image
            tracemalloc.start()
            try:
                path = image.save(tmp_path / "map")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    size = path.stat().st_size
    assert size > 4_000_000  # a live-sized 4K JPEG
    assert peak < size / 2, (peak, size)  # never the whole image in memory
    assert (image.width, image.height) == (4096, 4096) and not image.fetched


def test_an_expired_link_is_a_typed_error_and_the_result_is_kept(tmp_path: Path) -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock, sleep=clock.sleep) as server, _linked(server, clock) as nb:
        result = nb.generate("a fox")
        clock.advance(server.interactions.media_seconds - 1)
        assert result.image.width  # still served
        clock.advance(2)  # on the emulator's clock: the link's lifetime has passed
        with pytest.raises(ImageExpiredError) as expired:
            result.image.save(tmp_path / "fox")
        with pytest.raises(ImageExpiredError):
            result.image.data  # noqa: B018
    error = expired.value
    assert error.uri == result.image.uri and error.code == 404 and error.issued
    assert "expired" in str(error) and "delivery='inline'" in str(error)
    assert "test-key-123" not in str(error)
    assert result.cost is not None and result.response_id  # what was paid for is kept
    assert not list(tmp_path.iterdir())  # no partial file


def _media_gets(server: FakeGemini) -> list[object]:
    return [r for r in server.requests if "/interactions/media/" in r.path]


# -- runs on the Interactions API ----------------------------------------------------------


def test_a_run_goes_through_interactions_with_links_and_background(tmp_path: Path) -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock, sleep=clock.sleep, latency={"1K": 30.0}) as server:
        with NanoBanana(
            api_key="t", base_url=server.url, retry=_policy(clock), api="interactions",
            background=True, delivery="uri",
        ) as nb:  # fmt: skip
            report = nb.generate_many(
                ["a red fox", "a blue fox"], out_dir=tmp_path, concurrency=2, progress=False
            )
        posts = _interaction_posts(server)
        polls = [r for r in server.requests if r.method == "GET" and "/media/" not in r.path]
        fetched = _media_gets(server)
    assert (report.done, report.failed) == (2, 0) and report.cost > 0
    assert not server.generate_requests and len(posts) == 2
    assert all(p.body["background"] is True for p in posts)  # type: ignore[attr-defined]
    assert polls and len(fetched) == 2  # polled to the end, then each image fetched once
    lines = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    entries = [e for e in lines if "key" in e]  # not the header, nor the run's own line
    saved = [tmp_path / name for e in entries for name in e["images"]]
    assert len(saved) == 2 and all(p.read_bytes()[:3] == b"\xff\xd8\xff" for p in saved)
    assert all(e["response_id"].startswith("v1_") for e in entries)


def test_a_run_records_an_expired_link_and_does_not_pay_again(tmp_path: Path) -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock, sleep=clock.sleep) as server:
        server.interactions.media_seconds = 0  # every link is dead on arrival
        with _linked(server, clock) as nb:
            first = nb.generate_many(["a red fox"], out_dir=tmp_path, progress=False)
            again = nb.generate_many(["a red fox"], out_dir=tmp_path, progress=False)
        posts = _interaction_posts(server)
    assert (first.done, first.failed) == (0, 1) and first.cost == 0
    (entry,) = first.failures
    assert entry["error"]["type"] == "ImageExpiredError" and entry["transient"] is False
    assert entry["links"][0].startswith(server.url) and entry["cost"] > 0
    assert entry["response_id"].startswith("v1_")
    assert again.failed_before == 1 and len(posts) == 1  # the resume paid nothing again
    assert not list(tmp_path.glob("*.jpg"))


def test_the_async_run_uses_the_client_api(fake_gemini: FakeGemini, tmp_path: Path) -> None:
    async def main() -> None:
        async with AsyncNanoBanana(
            api_key="t", base_url=fake_gemini.url, api="interactions", delivery="uri"
        ) as anb:
            report = await anb.generate_many(["a fox"], out_dir=tmp_path, progress=False)
            assert report.done == 1
            image = (await anb.generate("a cat")).image
            assert image.width and len(image.data) > 1000  # bound to the async twin's client

    asyncio.run(main())
    assert len(_interaction_posts(fake_gemini)) == 2 and not fake_gemini.generate_requests


# -- webhooks ------------------------------------------------------------------------------


def test_a_webhook_is_sent_with_background_calls_and_polling_stays() -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock, sleep=clock.sleep, latency={"1K": 20.0}) as server:
        with NanoBanana(
            api_key="t", base_url=server.url, retry=_policy(clock), api="interactions",
            background=True, webhook="https://example.com/hooks/nanobanana",
        ) as nb:  # fmt: skip
            assert nb.generate("a fox").image
            session = nb.session()
            session.send("a fox")
        posts = _interaction_posts(server)
        polls = [r for r in server.requests if r.method == "GET"]
    assert (
        all(
            p.body["webhook_config"] == {"uris": ["https://example.com/hooks/nanobanana"]}  # type: ignore[attr-defined]
            for p in posts
        )
        and len(posts) == 2
    )
    assert len(polls) >= 2  # the answer is still polled for: a call returns its Result


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"api": "interactions", "webhook": "https://example.com/h"}, "for background calls"),
        ({"webhook": "https://example.com/h", "background": True}, "need the Interactions API|"
         "for background calls"),
        ({"api": "interactions", "background": True, "webhook": "http://example.com/h"},
         "https:// URL"),
        ({"api": "interactions", "background": True, "webhook": "example.com/h"}, "https:// URL"),
    ],
)  # fmt: skip
def test_a_bad_webhook_is_refused(options: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        NanoBanana(api_key="k", **options)  # type: ignore[arg-type]
