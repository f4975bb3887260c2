"""Models that retire: a warning before sending to one shut down, and a 404 that says so.

Both the client and the emulator take the date from an injected clock, so these tests stand
on either side of a shutdown date whatever the day they run.
"""

from __future__ import annotations

import asyncio
import warnings
from datetime import date

import pytest
from google.oauth2.credentials import Credentials

from nanobanana import (
    AsyncNanoBanana,
    InvalidRequestError,
    ModelShutDownWarning,
    NanoBanana,
    NotFoundError,
    RetryPolicy,
)
from nanobanana._models.lifecycle import warn_if_shut_down
from nanobanana._models.registry import MODELS, shutdown_of
from nanobanana.testing import FakeGemini

FLASH_25 = "gemini-2.5-flash-image"
BEFORE, ON = date(2026, 10, 1), date(2026, 10, 2)


def client(server: FakeGemini, day: date, cls: type = NanoBanana, **kwargs: object) -> NanoBanana:
    return cls(  # type: ignore[no-any-return]
        api_key="k", base_url=server.url, retry=RetryPolicy.none(), today=lambda: day, **kwargs
    )


def test_a_shut_down_model_is_warned_about_sent_and_its_404_explained() -> None:
    with FakeGemini(today=lambda: ON) as server, client(server, ON) as nb:
        with (
            pytest.warns(
                ModelShutDownWarning, match="shut down on the Gemini API on 2026-10-02"
            ) as warned,
            pytest.raises(NotFoundError) as info,
        ):
            nb.generate("a fox", model=FLASH_25)
        assert [r.status for r in server.generate_requests] == [404]  # sent all the same
    text = str(warned[0].message)
    assert "use gemini-3.1-flash-image instead" in text
    assert warned[0].filename == __file__  # pointed at the caller's line
    message = info.value.message
    assert message.startswith(
        "gemini-2.5-flash-image was shut down on the Gemini API on 2026-10-02; use "
        "gemini-3.1-flash-image instead (model='gemini-3.1-flash-image'). The API answered: "
        "models/gemini-2.5-flash-image is not found"
    )
    assert info.value.code == 404 and isinstance(info.value.__cause__, NotFoundError)


def test_before_its_date_nothing_is_warned() -> None:
    with FakeGemini(today=lambda: BEFORE) as server, client(server, BEFORE) as nb:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ModelShutDownWarning)
            result = nb.generate("a fox", model=FLASH_25, aspect_ratio="16:9")
    assert (result.image.width, result.image.height) == (
        1344,
        768,
    )  # its own table, not Pro's 1376x768
    assert result.image.mime_type == "image/png"


def test_old_code_against_an_emulator_that_serves_retired_models() -> None:
    with FakeGemini(serve_retired=True) as server, client(server, ON) as nb:
        with pytest.warns(ModelShutDownWarning):
            result = nb.generate("a fox", model=FLASH_25)
    assert (result.image.width, result.image.height) == (
        1024,
        1024,
    )  # what it answers without a ratio
    assert result.usage.thinking_tokens == 0 and "thinking_tokens" in result.usage.absent


def test_the_async_twin_warns_and_explains_alike() -> None:
    async def main() -> str:
        with FakeGemini(today=lambda: ON) as server:
            async with client(server, ON, AsyncNanoBanana) as nb:  # type: ignore[attr-defined]
                with pytest.warns(ModelShutDownWarning), pytest.raises(NotFoundError) as info:
                    await nb.generate("a fox", model=FLASH_25)
        return info.value.message

    assert "was shut down on the Gemini API on 2026-10-02" in asyncio.run(main())


def test_no_warning_where_the_backend_has_no_date() -> None:
    """No date is known for 2.5 Flash Image on Vertex AI: nothing to warn about there."""
    with FakeGemini(today=lambda: ON) as server:
        nb = NanoBanana(
            vertexai=True, project="p", location="us-central1", base_url=server.url,
            credentials=Credentials(token="test"), today=lambda: ON,
        )  # fmt: skip
        with nb, warnings.catch_warnings():
            warnings.simplefilter("error", ModelShutDownWarning)
            assert nb.generate("a fox", model=FLASH_25).images
    assert shutdown_of(FLASH_25, "vertex", date(2030, 1, 1)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_shut_down(FLASH_25, "vertex", date(2030, 1, 1))
        warn_if_shut_down("gemini-9-image", "gemini", date(2030, 1, 1))  # unknown: passes


def test_a_model_that_refuses_thinking_is_refused_before_sending() -> None:
    with pytest.raises(InvalidRequestError, match="refuses any thinking config"):
        NanoBanana(api_key="k").generate("a fox", model=FLASH_25, include_thoughts=True)


def test_models_show_their_lifecycle(fake_gemini: FakeGemini) -> None:
    with client(fake_gemini, ON) as nb:
        listed = {m.id: m for m in nb.models()}
    assert FLASH_25 not in listed  # shut down: the API no longer lists it
    assert listed["gemini-3-pro-image"].lifecycle.released == date(2026, 5, 28)
    assert not any("embedding" in m for m in listed)  # text-only models are filtered out
    life = MODELS[FLASH_25].lifecycle
    assert life.describe() == (
        "GA 2025-10-02; shut down on the Gemini API 2026-10-02; use gemini-3.1-flash-image"
    )
