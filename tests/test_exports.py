import subprocess
import sys

import nanobanana


def test_all_is_sorted_and_complete() -> None:
    assert nanobanana.__all__ == sorted(nanobanana.__all__)
    for name in nanobanana.__all__:
        assert getattr(nanobanana, name) is not None
    public = {n for n in dir(nanobanana) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(nanobanana.__all__)


def test_help_path_imports_nothing_heavy() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from nanobanana import cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    cli.main(['--help'])\n"
        "heavy = [m for m in ('google.genai', 'PIL', 'pydantic') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
