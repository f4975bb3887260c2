"""The README's examples run, unmodified, against the emulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nanobanana.testing import FakeGemini
from tests.conftest import photo

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.+?)```", README.read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, fake_gemini: FakeGemini, tmp_path, monkeypatch) -> None:
    # google-genai reads GOOGLE_GEMINI_BASE_URL: the examples need no change to run offline.
    monkeypatch.setenv("GEMINI_API_KEY", "readme-example")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.url)
    monkeypatch.chdir(tmp_path)
    for name in ("me.jpg", "cat.jpg"):
        (tmp_path / name).write_bytes(photo(1200, 900))
    (tmp_path / "watercolour.png").write_bytes(photo(400, 300, format="PNG"))
    before = set(tmp_path.iterdir())
    exec(compile(code, str(README), "exec"), {})
    written = [p for p in set(tmp_path.iterdir()) - before if p.suffix == ".jpg"]
    if ".save(" in code:
        assert written and all(p.read_bytes()[:3] == b"\xff\xd8\xff" for p in written)


def test_every_readme_example_is_tested() -> None:
    assert len(BLOCKS) >= 3
