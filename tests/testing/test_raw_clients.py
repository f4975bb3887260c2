"""Unmodified google-genai code, every surface, against the emulator (sync, async, Vertex)."""

from __future__ import annotations

import asyncio

import pytest
from google import genai
from google.genai import types

from nanobanana.testing import FakeGemini, ManualClock, sample_photo

PRO = "gemini-3-pro-image"
NB2 = "gemini-3.1-flash-image"


def _images(response: types.GenerateContentResponse) -> list[types.Part]:
    return [p for p in response.parts or [] if p.inline_data and not p.thought]


def test_image_only_modality_has_no_text_part(genai_client: genai.Client) -> None:
    config = types.GenerateContentConfig(response_modalities=["IMAGE"])
    for prompt in ("a fox", "a cat", "a dog", "a hen", "an owl", "a bee"):
        response = genai_client.models.generate_content(model=PRO, contents=prompt, config=config)
        assert [p.text for p in response.parts if p.text is not None] == []
        assert len(_images(response)) == 1


def test_text_and_image_sometimes_has_text_deterministically(genai_client: genai.Client) -> None:
    config = types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"])

    def has_text(prompt: str) -> bool:
        r = genai_client.models.generate_content(model=PRO, contents=prompt, config=config)
        assert len(_images(r)) == 1
        return any(p.text for p in r.parts)

    prompts = [f"a fox number {i}" for i in range(12)]
    seen = [has_text(p) for p in prompts]
    assert any(seen) and not all(seen)  # sometimes text + image, often the image alone
    assert seen == [has_text(p) for p in prompts]  # the same prompt, the same layout


def test_async_client(fake_gemini: FakeGemini) -> None:
    async def main() -> tuple[int, int]:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=fake_gemini.url))
        response = await client.aio.models.generate_content(model=PRO, contents="a fox")
        chunks = [c async for c in await client.aio.models.generate_content_stream(
            model=PRO, contents="a cat")]  # fmt: skip
        tokens = await client.aio.models.count_tokens(model=PRO, contents="a fox")
        await client.aio.aclose()
        return len(_images(response)), len(chunks) + 0 * tokens.total_tokens

    images, chunks = asyncio.run(main())
    assert images == 1 and chunks >= 2


def test_chats_keep_signatures(genai_client: genai.Client) -> None:
    chat = genai_client.chats.create(model=PRO)
    first = chat.send_message("a fox in the snow")
    second = chat.send_message("now make it night")
    assert _images(first) and _images(second)
    assert _images(first)[0].inline_data.data != _images(second)[0].inline_data.data


def test_grounded_generate_stream_and_batch(fake_gemini: FakeGemini) -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock) as server:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.url))
        search = types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())])
        response = client.models.generate_content(
            model=PRO, contents="today's weather in Paris as a poster", config=search
        )
        meta = response.candidates[0].grounding_metadata
        assert meta.web_search_queries is not None
        assert all(c.web.uri.startswith("https://vertexaisearch.cloud.google.com/")
                   for c in meta.grounding_chunks)  # fmt: skip
        assert 3_000 < len(meta.search_entry_point.rendered_content) < 8_000
        assert "<style>" in meta.search_entry_point.rendered_content

        chunks = list(client.models.generate_content_stream(
            model=PRO, contents="today's weather in Paris", config=search))  # fmt: skip
        assert chunks[-1].candidates[0].grounding_metadata.grounding_chunks

        job = client.batches.create(model=PRO, src=[{
            "contents": [{"parts": [{"text": "the news as a comic"}]}],
            "config": {"tools": [{"google_search": {}}]},
        }])  # fmt: skip
        clock.advance(10)
        done = client.batches.get(name=job.name)
        (entry,) = done.dest.inlined_responses
        assert entry.response.candidates[0].grounding_metadata.web_search_queries


def test_image_search_on_nano_banana_2_only(genai_client: genai.Client) -> None:
    both = types.GoogleSearch(search_types=types.SearchTypes(
        web_search=types.WebSearch(), image_search=types.ImageSearch()))  # fmt: skip
    config = types.GenerateContentConfig(tools=[types.Tool(google_search=both)])
    response = genai_client.models.generate_content(
        model=NB2, contents="a red panda", config=config
    )
    meta = response.candidates[0].grounding_metadata
    assert meta.image_search_queries
    image = [c.image for c in meta.grounding_chunks if c.image]
    assert image and all(i.source_uri and i.image_uri and i.domain for i in image)
    with pytest.raises(genai.errors.ClientError) as info:
        genai_client.models.generate_content(model=PRO, contents="a red panda", config=config)
    assert info.value.code == 400
    with pytest.raises(genai.errors.ClientError):
        genai_client.models.generate_content(
            model="gemini-2.5-flash-image", contents="a red panda",
            config=types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())]),
        )  # fmt: skip


def test_files_then_generate(genai_client: genai.Client, tmp_path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(sample_photo(640, 480))
    uploaded = genai_client.files.upload(file=path)
    assert uploaded.name in {f.name for f in genai_client.files.list()}
    response = genai_client.models.generate_content(model=PRO, contents=[uploaded, "make it blue"])
    assert _images(response)
    genai_client.files.delete(name=uploaded.name)


def test_vertex_generate_stream_chat_and_count(fake_gemini: FakeGemini) -> None:
    from google.oauth2.credentials import Credentials

    client = genai.Client(
        vertexai=True, project="my-project", location="us-central1",
        credentials=Credentials(token="test"),
        http_options=types.HttpOptions(base_url=fake_gemini.url),
    )  # fmt: skip
    config = types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(aspect_ratio="16:9", output_mime_type="image/png"),
    )
    response = client.models.generate_content(model=PRO, contents="a fox", config=config)
    assert _images(response)[0].inline_data.mime_type == "image/png"
    assert list(client.models.generate_content_stream(model=PRO, contents="a cat"))
    chat = client.chats.create(model=PRO)
    chat.send_message("a fox")
    assert _images(chat.send_message("make it night"))
    assert client.models.count_tokens(model=PRO, contents="a fox").total_tokens > 0
    paths = {r.path for r in fake_gemini.requests}
    assert any(p.startswith("/v1beta1/projects/my-project/locations/us-central1/publishers/"
                            "google/models/") for p in paths)  # fmt: skip
    assert all(r.headers.get("Authorization", "<redacted>") == "<redacted>"
               for r in fake_gemini.requests)  # fmt: skip
    with pytest.raises(genai.errors.APIError) as info:
        client.batches.create(model=PRO, src="gs://bucket/requests.jsonl")
    assert info.value.code == 501
