"""The live check's recorder and redaction, proven offline on the emulator."""

from __future__ import annotations

import asyncio
import json

from google import genai
from google.genai import types

from nanobanana import AsyncNanoBanana, NanoBanana
from nanobanana.testing import FakeGemini
from tests.live import cassettes

KEY = "AIzaSy-not-a-real-key-0123456789"


def _client(server: FakeGemini, recorder: cassettes.Recorder) -> genai.Client:
    options = types.HttpOptions(
        base_url=server.url,
        client_args=recorder.client_args(),
        async_client_args=recorder.async_client_args(),
    )
    return genai.Client(api_key=KEY, http_options=options)


def test_a_two_turn_edit_is_recorded_and_redacted(fake_gemini: FakeGemini, tmp_path) -> None:
    recorder = cassettes.Recorder(KEY)
    nb = NanoBanana(genai_client=_client(fake_gemini, recorder))
    session = nb.session(aspect_ratio="1:1", size="1K", include_thoughts=True)
    first = session.send("A green felt hat")
    session.send("Now make it red")
    assert len(recorder.exchanges) == 2

    items = [
        cassettes.cassette(e, name=f"edit-{i}", scenario="edit", key=KEY, turn=i)
        for i, e in enumerate(recorder.exchanges, 1)
    ]
    paths = cassettes.write(items, tmp_path, key=KEY)
    assert [p.name for p in paths] == ["edit-1.json", "edit-2.json"]
    text = paths[1].read_text()
    assert KEY not in text and max(len(line) for line in text.splitlines()) < 20_000
    second = json.loads(text)
    assert second["format"] == 1 and second["scenario"] == "edit" and second["notes"] == {"turn": 2}
    assert second["request"]["method"] == "POST"
    assert second["request"]["path"].endswith("/models/gemini-3-pro-image:generateContent")
    assert second["response"]["status"] == 200

    # The first turn's final image went back with its signature; both are sizes now.
    redacted = second["redacted"]
    kinds = {v["kind"] for v in redacted.values()}
    assert kinds == {"thought_signature", "inline_data"}
    sent = [p for p in redacted if p.startswith("/request/body/contents/1/")]
    assert sent, "the model turn's parts were sent back"
    image_entries = [
        v for p, v in redacted.items() if p.startswith("/response/") and v["kind"] == "inline_data"
    ]
    final = image_entries[-1]
    assert (final["width"], final["height"]) == (1024, 1024)
    assert final["mime_type"] == "image/jpeg" and final["bytes"] > 1000
    signature = first.image.thought_signature
    assert any(
        v["kind"] == "thought_signature" and v["bytes"] == len(signature)
        for p, v in redacted.items()
        if p.startswith("/request/")
    )
    # Every pointer names a placeholder in the cassette itself.
    for pointer in redacted:
        node = second
        for step in pointer.lstrip("/").split("/"):
            node = node[int(step)] if isinstance(node, list) else node[step]
        assert node == cassettes.PLACEHOLDER


def test_async_calls_and_errors_are_recorded(fake_gemini: FakeGemini, tmp_path) -> None:
    from nanobanana.testing import Fault

    fake_gemini.push(Fault.rate_limit(retry_delay=0))
    recorder = cassettes.Recorder(KEY)

    async def run() -> int:
        client = _client(fake_gemini, recorder)
        async with AsyncNanoBanana(genai_client=client) as nb:
            report = await nb.generate_many(["a red boat", "a blue boat"], out_dir=tmp_path)
        return report.done

    assert asyncio.run(run()) == 2
    statuses = sorted(e["response"]["status"] for e in recorder.exchanges)
    assert statuses == [200, 200, 429]
    limited = next(e for e in recorder.exchanges if e["response"]["status"] == 429)
    item = cassettes.cassette(limited, name="burst-429", scenario="burst", key=KEY)
    assert item["response"]["body"]["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert item["redacted"] == {}


def test_a_key_in_a_body_is_redacted() -> None:
    body, taken = cassettes.redact({"error": {"message": f"API key {KEY} not valid"}}, key=KEY)
    assert body == {"error": {"message": "API key <redacted> not valid"}}
    assert taken == {"/error/message": {"kind": "api_key", "chars": len(KEY)}}
