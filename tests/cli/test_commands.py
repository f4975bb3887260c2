"""The console script, run for real in subprocesses, against the emulator."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

import nanobanana
from nanobanana.cli import build_parser
from nanobanana.testing import FakeGemini, Fault
from tests.conftest import photo

SCRIPT = Path(sys.executable).with_name("nanobanana")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nanobanana"]


def run(*args: str, cwd: Path | None = None, env: dict | None = None, stdin: str | None = None):
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    }
    full_env.update(env or {})
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=full_env,
        input=stdin,
    )


@pytest.fixture
def api_env(fake_gemini: FakeGemini) -> dict:
    """The non-emulator path, pointed at the test's emulator (google-genai reads the URL)."""
    return {"GEMINI_API_KEY": "cli-test-key", "GOOGLE_GEMINI_BASE_URL": fake_gemini.url}


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"nanobanana {nanobanana.__version__}"


def test_generate_twice_keeps_both_files_and_shows_no_progress_when_piped(tmp_path: Path) -> None:
    for _ in range(2):
        out = run("generate", "A red fox", "--emulator", "-o", str(tmp_path))
        assert out.returncode == 0, out.stderr
        assert out.stderr == ""  # piped: no spinner, no progress, nothing
    second, first = sorted(p.name for p in tmp_path.glob("red-fox-*.jpg"))
    assert second == first.replace(".jpg", "-2.jpg")
    keys = [
        json.loads(line)["key"]
        for line in (tmp_path / "manifest.jsonl").read_text().splitlines()[1:]  # after the header
    ]
    assert len(set(keys)) == 2  # a repeat is its own manifest item


def test_o_names_an_image_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "a.jpg"
    first = run("generate", "A red fox", "--emulator", "-o", str(target))
    assert first.returncode == 0 and first.stdout.splitlines()[0] == str(target)
    second = run("generate", "A red fox", "--emulator", "-o", str(target))
    assert second.stdout.splitlines()[0] == str(tmp_path / "out" / "a-2.jpg")
    assert f"a.jpg exists; wrote {tmp_path / 'out' / 'a-2.jpg'}" in second.stderr
    png = run("generate", "A red fox", "--emulator", "-o", str(tmp_path / "out" / "b.png"))
    assert png.stdout.splitlines()[0] == str(tmp_path / "out" / "b.jpg")  # the bytes are JPEG
    assert "the image is JPG" in png.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    refused = run("generate", "A red fox", "--emulator", "-o", str(notes))
    assert refused.returncode == 2 and notes.read_text() == "keep me"


def test_template_runs_get_readable_names(tmp_path: Path) -> None:
    out = run("sheet", "a small robot gardener", "--emulator", "-o", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert len(list(tmp_path.glob("small-robot-gardener-*-[123].jpg"))) == 3
    assert "3 images, about $0.4" in out.stdout


def test_retired_model_warns_in_one_clean_line() -> None:
    out = run("generate", "A red fox", "--model", "gemini-3-pro-image-preview", "--dry-run",
              "--emulator")  # fmt: skip
    assert out.returncode == 0, out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith("warning: ") and line.endswith("(DeprecationWarning)")
    assert "0 references · 1 image · ~$0." in out.stdout


def test_verbose_has_no_afc_line(tmp_path: Path) -> None:
    out = run("generate", "A red fox", "--emulator", "-v", "-o", str(tmp_path))
    assert out.returncode == 0 and "INFO" in out.stderr and "AFC" not in out.stderr


def test_help_lists_the_commands() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in ("generate", "sheet", "edit", "batch", "gallery", "demo", "emulator"):
        assert command in out.stdout


def test_generate_offline(tmp_path: Path) -> None:
    out = run("generate", "A red fox in the snow", "--aspect", "16:9", "--size", "2k", "--emulator",
              "-o", str(tmp_path), "--keep-thoughts", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    (image,) = data["images"]
    assert Path(image).read_bytes()[:3] == b"\xff\xd8\xff"
    assert len(data["thought_images"]) == 2 and data["cost_usd"] > 0
    header, entry = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert json.loads(header)["format"] == "nanobanana-manifest"
    assert json.loads(entry)["size"] == "2K"


def test_generate_with_references_against_the_api(fake_gemini, api_env, tmp_path: Path) -> None:
    ref, me = tmp_path / "mug.jpg", tmp_path / "me.jpg"
    ref.write_bytes(photo(320, 240))
    me.write_bytes(photo(320, 240, seed=2))
    out = run(
        "generate",
        "Me holding the mug",
        "-r",
        str(ref),
        "--human",
        str(me),
        "-o",
        str(tmp_path),
        env=api_env,
    )
    assert out.returncode == 0, out.stderr
    (sent,) = fake_gemini.generate_requests
    assert len(sent.body["contents"][0]["parts"]) == 3


def test_sheet_makes_three_views(tmp_path: Path) -> None:
    out = run(
        "sheet",
        "a small robot gardener",
        "--feature",
        "a copper watering can",
        "--emulator",
        "-o",
        str(tmp_path),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["images"]) == 3


def test_dry_run_sends_nothing(fake_gemini, api_env) -> None:
    out = run("generate", "A red fox", "--size", "4K", "--dry-run", "--json", env=api_env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["requests"][0]["size"] == "4K" and data["estimated_cost_usd"] > 0.2
    assert fake_gemini.requests == []


@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [
        (Fault.error(400, "INVALID_ARGUMENT", "bad request"), 3, "bad request"),
        (Fault.safety("IMAGE_SAFETY", message="filtered"), 4, "blocked"),
        (Fault.no_image(), 5, "without an image"),
    ],
)
def test_exit_codes_tell_failures_apart(
    fake_gemini, api_env, tmp_path, fault, code, message
) -> None:
    fake_gemini.push(fault)
    out = run("generate", "A red fox", "-o", str(tmp_path), env=api_env)
    assert out.returncode == code, out.stderr
    assert message in out.stderr


def test_invalid_input_is_exit_2_and_sends_nothing(fake_gemini, api_env, tmp_path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    for args in (
        ["--size", "5k"],
        ["--aspect", "7:3"],
        ["-r", str(bad)],
        ["-r", str(tmp_path / "missing.jpg")],
    ):
        out = run("generate", "A red fox", *args, env=api_env)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith("error: ")
    assert fake_gemini.requests == []


def test_no_key_says_how_to_get_one_or_run_offline() -> None:
    out = run("generate", "A red fox")
    assert out.returncode == 2
    assert "GEMINI_API_KEY" in out.stderr and "--emulator" in out.stderr


def test_json_errors(fake_gemini, api_env) -> None:
    fake_gemini.push(Fault.safety())
    out = run("generate", "A red fox", "--json", "-o", tempfile.mkdtemp(), env=api_env)
    assert out.returncode == 4
    assert json.loads(out.stdout)["error"]["type"] == "SafetyBlockedError"


def test_batch_is_resumable(fake_gemini, api_env, tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        "\n".join(
            [
                json.dumps("A red fox"),
                json.dumps({"prompt": "A blue bike", "aspect_ratio": "16:9", "size": "2k"}),
                json.dumps({"prompt": "A green mug", "references": [str(tmp_path / "mug.jpg")]}),
            ]
        )
    )
    (tmp_path / "mug.jpg").write_bytes(photo(200, 200))
    out = run("batch", str(requests), "-o", str(tmp_path / "out"), "--gallery", env=api_env)
    assert out.returncode == 0, out.stderr
    assert "3 done now, 0 failed" in out.stdout
    assert len(fake_gemini.generate_requests) == 3
    again = run("batch", str(requests), "-o", str(tmp_path / "out"), env=api_env)
    assert again.returncode == 0 and len(fake_gemini.generate_requests) == 3  # nothing re-sent
    assert (tmp_path / "out" / "index.html").exists()


def test_batch_with_failures_is_exit_6(fake_gemini, api_env, tmp_path: Path) -> None:
    fake_gemini.push(Fault.safety())
    requests = tmp_path / "r.jsonl"
    requests.write_text('"A red fox"\n"A blue bike"\n')
    out = run(
        "batch", str(requests), "-o", str(tmp_path / "out"), "--concurrency", "1", env=api_env
    )
    assert out.returncode == 6, out.stderr
    assert "1 done now, 1 failed" in out.stdout


def test_batch_stays_non_zero_while_an_item_is_failed(fake_gemini, api_env, tmp_path) -> None:
    fake_gemini.push(Fault.safety())
    requests = tmp_path / "r.jsonl"
    requests.write_text('"A red fox"\n"A blue bike"\n')
    args = ("batch", str(requests), "-o", str(tmp_path / "out"), "--concurrency", "1", "--json")
    assert run(*args, env=api_env).returncode == 6
    again = run(*args, env=api_env)  # the block is not retried: the item is still failed
    assert again.returncode == 6, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["done_now"], summary["done_before"], summary["failed"]) == (0, 1, 1)
    assert summary["failed_before"] == 1  # blocked before, not retried: still failed
    assert summary["manifest"] == str(tmp_path / "out" / "manifest.jsonl")


def test_batch_refuses_unknown_keys(tmp_path: Path) -> None:
    requests = tmp_path / "r.jsonl"
    requests.write_text('"A red fox"\n{"prompt": "x", "aspect": "16:9"}\n')
    out = run("batch", str(requests), "-o", str(tmp_path), "--emulator")
    assert out.returncode == 2 and "r.jsonl:2: unknown key 'aspect'" in out.stderr


def test_batch_file_errors_name_the_line(tmp_path: Path) -> None:
    requests = tmp_path / "r.jsonl"
    requests.write_text('"A red fox"\n{"prompt": "x", "size": "9k"}\n')
    out = run("batch", str(requests), "-o", str(tmp_path), "--emulator")
    assert out.returncode == 2 and "r.jsonl:2" in out.stderr


def test_batch_api_path(tmp_path: Path) -> None:
    requests = tmp_path / "r.jsonl"
    requests.write_text('"A red fox"\n"A blue bike"\n')
    env = {"NANOBANANA_TEST": "1"}
    out = run(
        "batch",
        str(requests),
        "-o",
        str(tmp_path / "out"),
        "--emulator",
        "--batch-api",
        "--json",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["done"] == 2
    capped = run("batch", str(requests), "-o", str(tmp_path / "out"), "--emulator",
                 "--batch-api", "--max-cost", "1", env=env)  # fmt: skip
    assert capped.returncode == 2 and "--max-cost is not kept" in capped.stderr


def test_edit_session_from_stdin(tmp_path: Path) -> None:
    start = tmp_path / "photo.jpg"
    start.write_bytes(photo(640, 480))
    session = tmp_path / "s.json"
    out = run("edit", str(start), "--emulator", "-o", str(tmp_path), "--session", str(session),
              stdin="make it a watercolour\nadd a red hat\n:undo\nadd a blue hat\n")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "undid: add a red hat" in out.stdout
    assert json.loads(session.read_text())["turns"][-1]["prompt"] == "add a blue hat"
    # The undone turn's image is kept: the redone turn 2 takes the next free name.
    assert sorted(p.name for p in tmp_path.glob("s-*.jpg")) == ["s-1.jpg", "s-2-2.jpg", "s-2.jpg"]
    gallery = run("gallery", str(tmp_path))
    assert (
        gallery.returncode == 0
        and "3 of 3 requests succeeded" in Path(gallery.stdout.strip()).read_text()
    )


def test_edit_local_commands_are_never_sent(fake_gemini, api_env, tmp_path: Path) -> None:
    start = tmp_path / "photo.jpg"
    start.write_bytes(photo(64, 48))
    out = run("edit", str(start), "-o", str(tmp_path), "--json", env=api_env,
              stdin=":help\n:frobnicate\n:undo\nmake it blue\n:save\n:quit\nnever sent\n")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert len(fake_gemini.generate_requests) == 1
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0]["turn"] == 1 and lines[0]["image"].endswith("edit-1.jpg")
    assert lines[1] == {"saved": str(tmp_path / "session.json")}
    assert "unknown command :frobnicate (not sent to the model)" in out.stderr
    assert "nothing to undo" in out.stderr
    again = run("edit", str(start), "-o", str(tmp_path), env=api_env, stdin="make it red\n")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "edit-2-1.jpg").exists()  # an earlier session's edit-1.jpg is kept


def test_edit_exit_codes_as_the_other_commands(fake_gemini, api_env, tmp_path: Path) -> None:
    fake_gemini.push(Fault.safety())
    out = run("edit", "-o", str(tmp_path), env=api_env, stdin="a red fox\nmake it blue\n")
    assert out.returncode == 4 and "blocked" in out.stderr
    assert len(fake_gemini.generate_requests) == 1  # piped input stops at the first failure


def test_edit_help_lists_the_local_commands() -> None:
    out = run("edit", "--help")
    for command in (":help", ":undo", ":save", ":quit"):
        assert command in out.stdout


def test_demo_writes_real_images_and_a_gallery(tmp_path: Path) -> None:
    out = run("demo", "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    images = sorted((tmp_path / "out").glob("*.jpg"))
    assert len(images) == 5 and all(p.read_bytes()[:3] == b"\xff\xd8\xff" for p in images)
    assert (tmp_path / "out" / "index.html").exists()
    assert "would cost about $0.686" in out.stdout
    again = run("demo", "--out", str(tmp_path / "out"))  # a second run reports the same
    assert "would cost about $0.686" in again.stdout


def test_emulator_command_serves_any_client() -> None:
    proc = subprocess.Popen(
        [*COMMAND, "emulator", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline()).group(0)  # type: ignore[union-attr]
        request = urllib.request.Request(url + "/v1beta/models", headers={"x-goog-api-key": "k"})
        with urllib.request.urlopen(request, timeout=10) as response:
            models = json.loads(response.read())["models"]
        assert "models/gemini-3-pro-image" in [m["name"] for m in models]
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]


CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Chromium (Debian: apt-get install chromium); .ci/run installs it",
)
def test_gallery_in_a_real_browser(fake_gemini, api_env, tmp_path: Path) -> None:
    fake_gemini.push(Fault.safety(message="filtered out"))
    requests = tmp_path / "r.jsonl"
    requests.write_text('"A red fox"\n"Generate 2 images: a blue bike"\n"A green mug"\n')
    run("batch", str(requests), "-o", str(tmp_path / "out"), "--concurrency", "1", env=api_env)
    out = run("gallery", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    page = Path(out.stdout.strip())
    html = page.read_text()
    assert "filtered out" in html and "cli-test-key" not in html
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chrome'}", "--virtual-time-budget=5000",
             "--enable-logging=stderr", "--v=0"]  # fmt: skip
    shown = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    body = re.search(r"<body[^>]*>", shown.stdout)
    assert body, shown.stderr[-2000:]
    assert 'data-images="3"' in body.group(0) and 'data-loaded="3"' in body.group(0)
    assert "data-errors" not in body.group(0)
    assert "Uncaught" not in shown.stderr


def test_cli_reference_in_the_docs_is_current() -> None:
    """docs/cli.md holds every command's --help; regenerate with UPDATE_SNAPSHOTS=1."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    expected = render_cli_docs()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        doc.write_text(expected)
    assert doc.read_text() == expected


def render_cli_docs() -> str:
    os.environ["COLUMNS"] = "100"
    parser = build_parser()
    parts = [
        "# Command line\n",
        "Generated from `nanobanana --help`. Commands that call the API take `--emulator` to run "
        "offline.\n",
        "On a terminal, `generate`, `sheet` and `edit` show what they are waiting for and for how "
        "long (`⠋ waiting for gemini-3-pro-image (2K) · 12s`), and `batch` shows `done/total`, "
        "the cost so far and an ETA from the start. Piped, or with `--quiet`, they print no "
        "progress at all: stdout has only the results (`--json` for scripts). Images are never "
        "written over an existing file: a taken name gets the next free one (`fox-2.jpg`).\n",
    ]
    parts.append(f"```text\n{parser.format_help()}```\n")
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():  # type: ignore[union-attr]
        parts.append(f"## `nanobanana {name}`\n\n```text\n{command.format_help()}```\n")
    return "\n".join(parts)


def test_help_imports_only_what_printing_help_needs() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from nanobanana import cli\n"
        "for argv in (['--help'], ['edit', '--help'], ['--version']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        cli.main(argv)\n"
        "heavy = ('google.genai', 'PIL', 'pydantic', 'shutil', 'lzma', 'bz2', 'json', 'textwrap',\n"
        "         'threading', 'logging')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_edit_saves_its_session_on_ctrl_c(tmp_path: Path) -> None:
    session = tmp_path / "s.json"
    proc = subprocess.Popen(
        [*COMMAND, "edit", "--emulator", "-o", str(tmp_path), "--session", str(session)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("A red fox\n")
    proc.stdin.flush()
    assert proc.stdout.readline().startswith(str(tmp_path / "s-1.jpg"))
    proc.send_signal(signal.SIGINT)  # waiting for the next line, as a user at a prompt
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "session saved" in err
    assert json.loads(session.read_text())["turns"][0]["prompt"] == "A red fox"
