"""Vertex AI end to end against the emulator's Vertex routes: no network, a test token."""

from __future__ import annotations

import asyncio

import pytest
from google.oauth2.credentials import Credentials

from nanobanana import AsyncNanoBanana, InvalidRequestError, NanoBanana


def vertex(cls, server):
    return cls(vertexai=True, project="my-project", location="us-central1",
               credentials=Credentials(token="test"), base_url=server.url)  # fmt: skip


def test_generate_stream_and_session_run_on_vertex(fake_gemini) -> None:
    with vertex(NanoBanana, fake_gemini) as nb:
        assert nb.generate("a fox", aspect_ratio="16:9").image.width == 1376
        assert nb.stream("an owl").final().images
        session = nb.session()
        session.send("a cat")
        assert session.send("now in a hat").images
    paths = {r.path.split(":")[-1] for r in fake_gemini.requests}
    assert paths == {"generateContent", "streamGenerateContent"}
    assert all(
        r.path.startswith("/v1beta1/projects/my-project/locations/us-central1/")
        for r in fake_gemini.requests
    )
    assert all("Authorization" in r.headers for r in fake_gemini.requests)  # recorded redacted


def test_output_format_only_on_vertex(fake_gemini) -> None:
    with vertex(NanoBanana, fake_gemini) as nb:
        assert nb.generate("a fox", output_format="png").image.mime_type == "image/png"
    with (
        NanoBanana(api_key="test", base_url=fake_gemini.url) as nb,
        pytest.raises(InvalidRequestError, match="Vertex"),
    ):
        nb.generate("a fox", output_format="png")


def test_the_batch_api_is_refused_on_vertex(fake_gemini) -> None:
    with (
        vertex(NanoBanana, fake_gemini) as nb,
        pytest.raises(InvalidRequestError, match="Cloud Storage"),
    ):
        nb.batch.submit(["a fox"])

    async def run():
        async with vertex(AsyncNanoBanana, fake_gemini) as nb:
            await nb.batch.submit(["a fox"])

    with pytest.raises(InvalidRequestError, match="Cloud Storage"):
        asyncio.run(run())
    assert fake_gemini.requests == []
