"""Every Python block in README.md and docs/**/*.md runs, unmodified, against the emulator.

Blocks are found automatically, so a new page is tested the day it is written. The blocks of
one page run in order in one namespace and one working directory, as a reader would run them
in a notebook (a later block may use `nb` or `session` from an earlier one). Each block runs
with `GEMINI_API_KEY` set to a dummy and `GOOGLE_GEMINI_BASE_URL` pointing at `FakeGemini`,
which is how unmodified code reaches the emulator, in a directory holding the sample images
the docs name (`me.jpg`, `cat.jpg`, `photo.jpg`, ...).

A block that cannot run offline says so just before it, and is skipped with that reason:

    <!-- skip: needs a real key -->
    ```python
    ...
    ```
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nanobanana.testing import FakeGemini
from tests.conftest import photo

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FENCE = re.compile(
    r"(?:<!--\s*skip:\s*(?P<skip>.+?)\s*-->\s*\n)?^```python[^\n]*\n(?P<code>.*?)^```",
    re.M | re.S,
)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    code: str
    skip: str | None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT).as_posix()}:{self.line}"


_OUTER_FENCE = re.compile(r"^````.*?^````", re.M | re.S)  # shows a block; is not one


def _blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    text = _OUTER_FENCE.sub(lambda m: "\n" * m.group().count("\n"), text)  # keep line numbers
    return [
        Block(page, text.count("\n", 0, m.start("code")) + 1, m.group("code"), m.group("skip"))
        for m in _FENCE.finditer(text)
    ]


BLOCKS = [block for page in PAGES for block in _blocks(page)]

# The files the docs' examples open, made once per page run.
SAMPLES = {
    "me.jpg": lambda: photo(1200, 900, seed=1),
    "cat.jpg": lambda: photo(1200, 900, seed=2),
    "photo.jpg": lambda: photo(1600, 1200, seed=3),
    "mug.jpg": lambda: photo(1000, 1000, seed=4),
    "watercolour.png": lambda: photo(400, 300, seed=5, format="PNG"),
    "poster.png": lambda: photo(600, 900, seed=6, format="PNG"),
}


@dataclass
class PageRun:
    """One page's namespace and directory, carried from block to block."""

    cwd: Path
    done: int = 0  # how many of the page's blocks have run
    namespace: dict[str, Any] = field(default_factory=lambda: {"__name__": "__docs__"})


_RUNS: dict[Path, PageRun] = {}


def _close(run: PageRun) -> None:
    """Closes the clients a page's examples made (as a reader's script would end), so their
    sockets are not left for the garbage collector to find in some later test."""
    import gc
    import warnings

    from google import genai

    from nanobanana import NanoBanana

    for value in list(run.namespace.values()):
        if isinstance(value, NanoBanana | genai.Client):
            value.close()
    run.namespace.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # examples that made their own clients
        gc.collect()


@pytest.fixture(scope="module", autouse=True)
def _close_every_page():
    yield
    for run in _RUNS.values():
        _close(run)
    _RUNS.clear()


def _execute(block: Block, namespace: dict[str, Any]) -> None:
    # Compiled as the page itself, so a traceback names the page's own line numbers and text.
    # Top-level `await` is allowed, as in a notebook cell.
    source = "\n" * (block.line - 1) + block.code
    code = compile(source, str(block.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    outcome = eval(code, namespace)
    if inspect.iscoroutine(outcome):
        asyncio.run(outcome)


def _images(cwd: Path) -> set[Path]:
    return {p for p in cwd.rglob("*") if p.suffix in {".jpg", ".png", ".webp"}}


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_doc_block_runs(
    block: Block, fake_gemini: FakeGemini, tmp_path_factory: pytest.TempPathFactory, monkeypatch
) -> None:
    siblings = [b for b in BLOCKS if b.page == block.page]
    index = siblings.index(block)
    run = _RUNS.get(block.page)
    if block.skip:
        if run is not None and run.done == index:
            run.done += 1  # the page goes on without it
        pytest.skip(block.skip)
    monkeypatch.setenv("GEMINI_API_KEY", "docs-example")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake_gemini.url)
    if run is None or run.done != index:  # run alone, or after a failure: replay the page
        if run is not None:
            _close(run)
        cwd = tmp_path_factory.mktemp(block.page.stem)
        for name, make in SAMPLES.items():
            (cwd / name).write_bytes(make())
        run = _RUNS[block.page] = PageRun(cwd)
    monkeypatch.chdir(run.cwd)
    for earlier in siblings[run.done : index]:
        if not earlier.skip:
            try:
                _execute(earlier, run.namespace)
            except Exception as exc:  # the earlier block's own test reports the details
                pytest.fail(f"{earlier.name}, run first for its names, failed: {exc!r}")
        run.done += 1
    before = _images(run.cwd)
    _execute(block, run.namespace)
    run.done += 1
    if re.search(r"(image|view)\.save\(", block.code):
        written = _images(run.cwd) - before
        assert written, f"{block.name} calls save() but wrote no image"
        assert all(p.stat().st_size > 0 for p in written)


def test_blocks_are_found() -> None:
    names = {b.page.name for b in BLOCKS}
    assert {"README.md", "index.md", "sessions.md", "streaming.md"} <= names
    assert len(BLOCKS) >= 20
    assert all(b.skip is None or b.skip.strip() for b in BLOCKS)


def test_a_block_shown_inside_a_longer_fence_is_not_run(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("````markdown\n```python\nboom()\n```\n````\n\n```python\nok()\n```\n")
    assert [(b.line, b.code) for b in _blocks(page)] == [(8, "ok()\n")]


def test_skip_marker_is_read() -> None:
    page = "text\n<!-- skip: needs a real key -->\n```python\nboom()\n```\n\n```python\nok()\n```\n"
    found = [(m.group("skip"), m.group("code")) for m in _FENCE.finditer(page)]
    assert found == [("needs a real key", "boom()\n"), (None, "ok()\n")]


def _readme_cli_lines() -> list[str]:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Command line", 1)[1]
    block = re.search(r"```bash\n(.+?)```", section, re.S)
    assert block, "README's Command line section has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_cli_examples_run_after_the_quick_start(tmp_path: Path) -> None:
    """Each README command, as written (plus --emulator), on the venv the Quick start made."""
    import shlex
    import subprocess
    import sys

    quick_start = (ROOT / "README.md").read_text(encoding="utf-8").split("## Quick start", 1)[1]
    assert "python3 -m venv .venv" in quick_start  # so `.venv/bin/nanobanana` exists after it
    for name, make in SAMPLES.items():
        (tmp_path / name).write_bytes(make())
    (tmp_path / "requests.jsonl").write_text(
        '"A red fox in fresh snow"\n{"prompt": "A teal mug on oak", "aspect_ratio": "1:1"}\n'
    )
    lines = _readme_cli_lines()
    assert len(lines) >= 5
    for line in lines:
        words = shlex.split(line, comments=True)
        assert words[0] == ".venv/bin/nanobanana", f"needs the venv's path or activation: {line}"
        command = [sys.executable, "-m", "nanobanana", *words[1:]]
        if words[1] in {"generate", "sheet", "edit", "batch"}:
            command.append("--emulator")
        out = subprocess.run(
            command, cwd=tmp_path, input="Make it night\n", capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, f"{line}\n{out.stdout}\n{out.stderr}"
    assert list((tmp_path / "out").glob("*.jpg")) and (tmp_path / "out" / "index.html").exists()
