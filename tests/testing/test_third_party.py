"""Other people's Gemini clients, unmodified, against the emulator (skipped when absent).

Versions checked beside google-genai 3.6.1: gemimg 0.4.0, pydantic-ai-slim[google] 2.66.0,
litellm 1.110.2.
"""

from __future__ import annotations

import asyncio

import pytest

from nanobanana.testing import FakeGemini

PRO = "gemini-3-pro-image"


def test_gemimg(fake_gemini: FakeGemini) -> None:
    gemimg = pytest.importorskip("gemimg", reason="gemimg is not installed")
    pro = gemimg.GemImg(api_key="k", model=PRO, base_url=fake_gemini.url)
    result = pro.generate("a fox in the snow", save=False, image_size="1K", aspect_ratio="16:9")
    pro.client.close()  # gemimg leaves its httpx client to the caller
    assert result is not None and [im.size for im in result.images] == [(1376, 768)]
    # its default model is the cookbook's 2.5 Flash Image, shut down on 2026-10-02: the real
    # 404, unless the emulator serves retired models for old code (it answers PNG)
    flash = gemimg.GemImg(api_key="k", base_url=fake_gemini.url)
    assert flash.generate("a fox", save=False) is None
    flash.client.close()
    assert [r.status for r in fake_gemini.generate_requests] == [200, 404]
    with FakeGemini(serve_retired=True) as old:
        flash = gemimg.GemImg(api_key="k", base_url=old.url)
        result = flash.generate("a fox", save=False)
        flash.client.close()
    assert result is not None and result.images[0].format == "PNG"
    assert result.images[0].size == (1024, 1024)  # its size without a ratio


def test_pydantic_ai(fake_gemini: FakeGemini) -> None:
    pytest.importorskip("pydantic_ai", reason="pydantic-ai-slim[google] is not installed")
    import httpx2
    from pydantic_ai import Agent, BinaryImage
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    async def main() -> BinaryImage:
        # Our own HTTP client, closed at the end (the provider's own is left open).
        async with httpx2.AsyncClient(timeout=60) as http:
            provider = GoogleProvider(api_key="k", base_url=fake_gemini.url, http_client=http)
            agent = Agent(GoogleModel(PRO, provider=provider), output_type=BinaryImage)
            return (await agent.run("a fox in the snow")).output

    output = asyncio.run(main())
    assert output.media_type == "image/jpeg" and output.data[:3] == b"\xff\xd8\xff"


# LiteLLM's own pydantic models warn on import (ReadOnly TypedDict items): not ours to fix.
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
def test_litellm(fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of prices
    litellm = pytest.importorskip("litellm", reason="litellm is not installed")
    response = litellm.completion(
        model=f"gemini/{PRO}",
        messages=[{"role": "user", "content": "a fox in the snow"}],
        api_base=f"{fake_gemini.url}/v1beta",
        api_key="k",
        modalities=["image", "text"],
    )
    images = response.choices[0].message.images
    assert images and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
