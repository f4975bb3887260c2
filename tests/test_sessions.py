"""Multi-turn sessions against the emulator, whose validation rejects missing or altered signatures."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nanobanana import (
    AsyncNanoBanana,
    InvalidRequestError,
    NanoBanana,
    RetryPolicy,
    SafetyBlockedError,
    ServerError,
    Session,
    SessionTooLargeError,
)
from nanobanana.testing import FakeGemini, Fault
from tests.conftest import photo


@pytest.fixture
def nb(fake_gemini: FakeGemini):
    with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=RetryPolicy.none()) as client:
        yield client


def sent_contents(server: FakeGemini, index: int = -1) -> list[dict]:
    return server.generate_requests[index].body["contents"]


def b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_five_turn_edit(fake_gemini: FakeGemini, nb: NanoBanana) -> None:
    session = nb.session(aspect_ratio="1:1", include_thoughts=True)
    prompts = [
        "A red fox in a green hat",
        "make the hat red",
        "add snow",
        "make it night",
        "add a moon",
    ]
    results = [session.send(p) for p in prompts]
    assert all(r.images for r in results) and len(session.history) == 5
    contents = sent_contents(fake_gemini)
    assert [c["role"] for c in contents] == ["user", "model"] * 4 + ["user"]
    # every earlier model part goes back with its signature, byte for byte; no thought parts
    for turn, content in zip(session.history[:4], contents[1::2], strict=True):
        assert len(content["parts"]) == len(turn.result.parts)
        for part, sent in zip(turn.result.parts, content["parts"], strict=True):
            assert "thought" not in sent
            assert b64(sent["thoughtSignature"]) == part.thought_signature
            if "inlineData" in sent:
                assert b64(sent["inlineData"]["data"]) == part.data


def test_references_go_with_their_turn(fake_gemini: FakeGemini, nb: NanoBanana) -> None:
    session = nb.session()
    session.send("Put this mug on a desk", references=[photo(320, 240)])
    session.send("Now a blue mug")
    first_user = sent_contents(fake_gemini)[0]
    assert "inlineData" in first_user["parts"][1]


def test_failed_turn_leaves_history_as_it_was(fake_gemini: FakeGemini, nb: NanoBanana) -> None:
    session = nb.session()
    session.send("A red fox")
    before = list(session.history)
    fake_gemini.push(Fault.safety("IMAGE_SAFETY"))
    with pytest.raises(SafetyBlockedError):
        session.send("something blocked")
    fake_gemini.push(Fault.unavailable())
    with pytest.raises(ServerError):
        session.send("while overloaded")
    fake_gemini.push(Fault.no_image())
    with pytest.raises(Exception, match="without an image"):
        session.send("no image")
    assert session.history == tuple(before)
    session.send("make it blue")  # still usable
    assert [c["role"] for c in sent_contents(fake_gemini)] == ["user", "model", "user"]


def test_undo_and_branch_send_the_right_history(fake_gemini: FakeGemini, nb: NanoBanana) -> None:
    session = nb.session()
    session.send("A red fox")
    session.send("make it blue")
    undone = session.undo()
    assert undone.prompt == "make it blue" and len(session.history) == 1
    branch = session.branch()
    branch.send("make it green")
    session.send("make it purple")
    main_texts = [p["parts"][0].get("text") for p in sent_contents(fake_gemini)[::2]]
    assert main_texts == ["A red fox", "make it purple"]
    branch_texts = [p["parts"][0].get("text") for p in sent_contents(fake_gemini, -2)[::2]]
    assert branch_texts == ["A red fox", "make it green"]
    assert len(branch.history) == 2 and len(session.history) == 2
    with pytest.raises(InvalidRequestError, match="nothing to undo"):
        nb.session().undo()


def test_next_request_is_what_send_sends(fake_gemini: FakeGemini, nb: NanoBanana) -> None:
    session = nb.session(aspect_ratio="16:9", size="2K")
    quote = session.next_request("a fox", size="4K")
    assert (quote.aspect_ratio.value, quote.size.value) == ("16:9", "4K")
    assert quote.estimated_cost() > session.next_request("a fox").estimated_cost()
    assert not fake_gemini.generate_requests and not session.turns  # nothing sent or kept
    with pytest.raises(InvalidRequestError, match="7:3"):
        session.next_request("a fox", aspect_ratio="7:3")
    session.send("a fox", size="4K")
    sent = fake_gemini.generate_requests[-1].body["generationConfig"]["imageConfig"]
    assert (sent["aspectRatio"], sent["imageSize"]) == ("16:9", "4K")


def test_edit_an_existing_image(fake_gemini: FakeGemini, nb: NanoBanana, tmp_path: Path) -> None:
    image = nb.generate("A red fox", aspect_ratio="1:1").image
    edited = nb.edit(image, "Remove the background")
    assert edited.images
    sent = sent_contents(fake_gemini)
    assert len(sent) == 1 and b64(sent[0]["parts"][1]["inlineData"]["data"]) == image.data
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo(640, 480))
    assert nb.edit(path, "Make it a watercolour").images


def test_save_and_resume(fake_gemini: FakeGemini, nb: NanoBanana, tmp_path: Path) -> None:
    session = nb.session(aspect_ratio="1:1")
    session.send("A red fox", references=[photo(320, 240)])
    session.send("make it blue")
    path = session.save(tmp_path / "fox.json")
    doc = json.loads(path.read_text())
    assert "data" not in json.dumps(doc["turns"][0]["model_parts"])  # images by path and hash
    images = list((tmp_path / "fox.images").iterdir())
    assert len(images) == 3  # one reference, two generated

    resumed = Session.load(path, nb)
    assert len(resumed.history) == 2 and resumed.aspect_ratio == "1:1"
    assert resumed.history[-1].result.image.data == session.history[-1].result.image.data
    resumed.send("add snow")  # the emulator checks every signature survived the round trip
    assert len(sent_contents(fake_gemini)) == 5


def test_resume_in_another_process(fake_gemini: FakeGemini, nb: NanoBanana, tmp_path: Path) -> None:
    session = nb.session()
    session.send("A red fox")
    path = session.save(tmp_path / "fox.json", inline_images=True)
    assert not (tmp_path / "fox.images").exists()
    code = (
        "import sys\n"
        "from nanobanana import NanoBanana, Session\n"
        "nb = NanoBanana(api_key='t', base_url=sys.argv[1])\n"
        "s = Session.load(sys.argv[2], nb)\n"
        "print(len(s.send('make it blue').images), len(s.history))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, fake_gemini.url, str(path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "2"]


def test_a_changed_image_file_is_caught_on_load(nb: NanoBanana, tmp_path: Path) -> None:
    session = nb.session()
    session.send("A red fox")
    path = session.save(tmp_path / "s.json")
    next((tmp_path / "s.images").iterdir()).write_bytes(b"changed")
    with pytest.raises(InvalidRequestError, match="has changed since it was saved"):
        Session.load(path, nb)


def test_history_near_the_size_limit_never_sends_too_much() -> None:
    with (
        FakeGemini(signature_bytes=3_000_000) as server,
        NanoBanana(api_key="t", base_url=server.url, retry=RetryPolicy.none()) as nb,
    ):
        session = nb.session()
        for _ in range(2):
            session.send("A red fox")
        sent_before = len(server.generate_requests)
        with pytest.raises(SessionTooLargeError, match="drop_oldest") as info:
            for _ in range(5):
                session.send("another change")
        assert "over the 20 MB request limit" in str(info.value)
        assert all(r.status == 200 for r in server.generate_requests)  # nothing was rejected
        turns = len(session.history)
        assert len(server.generate_requests) == sent_before + turns - 2
        session.drop_oldest(turns - 1)
        assert session.send("one more").images


def _noise_png(width: int, height: int, seed: int) -> bytes:
    """An incompressible PNG (about 5 MB at 1280x1280)."""
    import io
    import random

    from PIL import Image

    noise = random.Random(seed).randbytes(width * height * 3)
    buf = io.BytesIO()
    Image.frombytes("RGB", (width, height), noise).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def test_old_references_move_to_the_files_api() -> None:
    with (
        FakeGemini(signature_bytes=1_500_000) as server,
        NanoBanana(api_key="t", base_url=server.url, retry=RetryPolicy.none()) as nb,
    ):
        session = nb.session()
        for i in range(4):  # 1,280 px of noise: no larger than the model reads, so sent as is
            session.send(f"turn {i}", references=[_noise_png(1280, 1280, seed=20 + i)])
        uploads = [r for r in server.requests if r.path.startswith("/upload/")]
        assert uploads, "expected older references to be uploaded"
        first_user = server.generate_requests[-1].body["contents"][0]
        assert "fileData" in first_user["parts"][1] or "file_data" in first_user["parts"][1]
        assert all(r.size < 20 * 1024 * 1024 for r in server.generate_requests)


def test_async_session_parity(fake_gemini: FakeGemini, tmp_path: Path) -> None:
    async def run() -> None:
        async with AsyncNanoBanana(
            api_key="t", base_url=fake_gemini.url, retry=RetryPolicy.none()
        ) as nb:
            session = nb.session(aspect_ratio="16:9")
            for prompt in ["A red fox", "make it blue", "add snow"]:
                await session.send(prompt)
            fake_gemini.push(Fault.safety())
            with pytest.raises(SafetyBlockedError):
                await session.send("blocked")
            assert len(session.history) == 3
            session.undo()
            branch = session.branch()
            await branch.send("make it green")
            path = session.save(tmp_path / "a.json")
            resumed = type(session).load(path, nb)
            await resumed.send("add a moon")
            edited = await nb.edit(resumed.last.image, "Remove the background")
            assert edited.images

    asyncio.run(run())
    roles = [c["role"] for c in sent_contents(fake_gemini, -2)]
    assert roles == ["user", "model", "user", "model", "user"]


def test_reference_slots_apply_to_the_turn_sent_and_the_api_speaks_for_the_history(
    nb: NanoBanana, fake_gemini: FakeGemini
) -> None:
    """One object reference a turn: the SDK never counts earlier turns' references against
    one request's 6 object + 3 flexible slots; the emulator's 400 (14 images in a request)
    comes back explained, and the history is kept as it was."""
    from nanobanana import BadRequestError

    session = nb.session()
    for turn in range(1, 15):
        session.send(f"turn {turn}: add this object", references=[photo(32 + turn, 32)])
    assert len(session.history) == 14
    with pytest.raises(BadRequestError) as info:
        session.send("turn 15: add this object", references=[photo(64, 64)])
    message = info.value.message
    assert "Too many images in the request: 15" in message
    assert "the 14 reference image(s) of its earlier turns" in message
    assert "session.drop_oldest(n)" in message
    assert len(session.history) == 14
    session.drop_oldest(2)
    assert session.send("turn 15 again", references=[photo(64, 64)]).images
