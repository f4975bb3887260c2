"""Every bad input, at every entry point: a typed error naming what was wrong, nothing sent."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from nanobanana import AsyncNanoBanana, InvalidRequestError, NanoBanana
from nanobanana.testing import FakeGemini
from tests.hardening.cases import bad_inputs

CASES = [label for label, _, _ in bad_inputs(Path(tempfile.mkdtemp()))]


def _case(label: str, tmp: Path) -> tuple[dict, str]:
    return next((kwargs, words) for name, kwargs, words in bad_inputs(tmp) if name == label)


@pytest.mark.parametrize("label", CASES)
@pytest.mark.parametrize(
    "entry", ["generate", "async generate", "session", "generate_many", "batch"]
)
def test_refused_before_sending(
    label: str, entry: str, fake_gemini: FakeGemini, tmp_path: Path
) -> None:
    kwargs, words = _case(label, tmp_path)
    prompt = kwargs.pop("prompt")
    with (
        NanoBanana(api_key="t", base_url=fake_gemini.url) as nb,
        pytest.raises(InvalidRequestError) as info,
    ):
        if entry == "generate":
            nb.generate(prompt, **kwargs)
        elif entry == "async generate":

            async def go():
                async with AsyncNanoBanana(api_key="t", base_url=fake_gemini.url) as anb:
                    await anb.generate(prompt, **kwargs)

            asyncio.run(go())
        elif entry == "session":
            session = nb.session(model=kwargs.pop("model", None))
            session.send(prompt, **kwargs)
        else:
            from nanobanana import GenerationRequest

            request = GenerationRequest(prompt, **kwargs)  # refused here already
            (
                nb.generate_many([request], out_dir=tmp_path)
                if entry == "generate_many"
                else nb.batch.submit([request])
            )
    assert words in str(info.value)
    assert fake_gemini.requests == []


def test_negative_spend_cap(fake_gemini: FakeGemini, tmp_path: Path) -> None:
    with (
        NanoBanana(api_key="t", base_url=fake_gemini.url) as nb,
        pytest.raises(InvalidRequestError, match="max_cost"),
    ):
        nb.generate_many(["a fox"], out_dir=tmp_path, max_cost=-5)
    assert fake_gemini.requests == []


def test_unreadable_file(fake_gemini: FakeGemini, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "secret.jpg"
    path.write_bytes(b"\xff\xd8\xff")

    real_open = os.open

    def denied(name, flags, *args, **kwargs):  # only this file: root ignores chmod 0
        if str(name) == str(path):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with (
        NanoBanana(api_key="t", base_url=fake_gemini.url) as nb,
        pytest.raises(InvalidRequestError, match="cannot be read"),
    ):
        nb.generate("a fox", references=[path])
    assert fake_gemini.requests == []
