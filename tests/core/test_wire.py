"""The one wire builder: a setting set once reaches the wire on every path (issue #21)."""

from __future__ import annotations

import io

import pytest

from nanobanana import GenerationRequest, Reference
from tests.conftest import photo

ULTRA = {"level": "MEDIA_RESOLUTION_ULTRA_HIGH"}


def _reference_parts(fake_gemini) -> list[dict]:
    body = fake_gemini.generate_requests[-1].body
    return [p for p in body["contents"][-1]["parts"] if "inlineData" in p or "fileData" in p]


def test_a_session_turn_sends_each_reference_with_its_detail(fake_gemini, fake_nanobanana) -> None:
    session = fake_nanobanana.session()
    session.send("a fox", references=[Reference.style(photo(64, 48), detail="ultra_high")])
    assert [p.get("mediaResolution") for p in _reference_parts(fake_gemini)] == [ULTRA]
    session.send("now at dusk", references=[Reference.object(photo(64, 48, seed=2))])
    body = fake_gemini.generate_requests[-1].body
    first_turn = [p for p in body["contents"][0]["parts"] if "inlineData" in p]
    assert first_turn[0]["mediaResolution"] == ULTRA  # the history keeps it too
    assert "/v1beta/" in fake_gemini.generate_requests[-1].path


def test_edit_with_ultra_high_sends_it_on_the_image(fake_gemini, fake_nanobanana) -> None:
    fake_nanobanana.edit(photo(64, 48), "make it night", media_resolution="ultra_high")
    assert [p.get("mediaResolution") for p in _reference_parts(fake_gemini)] == [ULTRA]


def test_a_plain_call_and_a_session_turn_send_the_same_user_turn(
    fake_gemini, fake_nanobanana
) -> None:
    refs = [Reference.human(photo(64, 48), detail="low"), Reference.object(photo(64, 48, seed=3))]
    fake_nanobanana.generate("a fox", references=refs, media_resolution="medium")
    plain = fake_gemini.generate_requests[-1].body["contents"][-1]
    fake_nanobanana.session(media_resolution="medium").send("a fox", references=refs)
    turn = fake_gemini.generate_requests[-1].body["contents"][-1]
    assert turn == plain


def test_generate_many_keeps_the_detail_of_a_file_object_reference(
    fake_gemini, fake_nanobanana, tmp_path
) -> None:
    ref = Reference.style(io.BytesIO(photo(64, 48)), detail="ultra_high")
    report = fake_nanobanana.generate_many(
        [GenerationRequest("a fox", references=[ref])], out_dir=tmp_path, progress=False
    )
    assert report.done == 1
    assert [p.get("mediaResolution") for p in _reference_parts(fake_gemini)] == [ULTRA]


@pytest.mark.parametrize("detail", ["low", "ultra_high"])
def test_a_batch_line_keeps_the_detail_of_a_file_object_reference(
    fake_gemini, fake_nanobanana, detail
) -> None:
    ref = Reference.style(io.BytesIO(photo(64, 48)), detail=detail)
    fake_nanobanana.batch.submit([GenerationRequest("a fox", references=[ref])])
    (create,) = [r for r in fake_gemini.requests if r.path.endswith(":batchGenerateContent")]
    (item,) = create.body["batch"]["inputConfig"]["requests"]["requests"]
    parts = item["request"]["contents"][-1]["parts"]
    assert parts[1]["mediaResolution"] == {"level": f"MEDIA_RESOLUTION_{detail.upper()}"}


def test_old_names_still_work_with_a_deprecation() -> None:
    import nanobanana

    with pytest.warns(DeprecationWarning, match="GroundingSource"):
        assert nanobanana.Source is nanobanana.GroundingSource
    assert "Source" not in nanobanana.__all__
    ref = Reference.object(photo(64, 48), detail="ultra-high")
    assert ref.media_resolution == ref.detail == "ultra_high"
    with pytest.raises(nanobanana.InvalidRequestError, match="not both"):
        Reference(photo(64, 48), detail="low", media_resolution="high")


def test_the_image_being_edited_is_counted_and_named(fake_gemini, fake_nanobanana) -> None:
    from nanobanana import InvalidRequestError

    refs = [photo(64, 48, seed=i) for i in range(14)]
    with pytest.raises(InvalidRequestError, match="the image being edited and 14 reference"):
        fake_nanobanana.edit(photo(64, 48), "make it night", references=refs)
    assert fake_gemini.requests == []
    fake_nanobanana.edit(photo(64, 48), "make it night", references=refs[:5])  # 6 objects fit
