"""mypy --strict and ruff stay clean: checked on every CI run, not only when someone remembers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
    reason="ruff not installed",
)
def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    paths = ["src", "tests", "benchmarks", "noxfile.py"]
    check = subprocess.run([ruff, "check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [ruff, "format", "--check", *paths], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict_is_clean() -> None:
    pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


SRC = ROOT / "src" / "nanobanana"
#: The order of the house (STYLE.md): a module imports only modules before it.
MAX_MODULE_LINES = 400


def _imports(path: Path, package: str) -> set[str]:
    """Every nanobanana module a file imports, TYPE_CHECKING imports included."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, node.module] if node.module else parts)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if _module(f"{base}.{alias.name}") else base)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nanobanana."):
            found.add(node.module or "")
    return {m for m in found if _module(m)}


def _module(name: str) -> Path | None:
    path = ROOT / "src" / Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _graph() -> dict[str, set[str]]:
    graph = {}
    for file in SRC.rglob("*.py"):
        parts = file.relative_to(ROOT / "src").with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = _imports(file, package) - {name, "nanobanana"}
    graph.pop("nanobanana")  # the package's lazy exports name everything
    return graph


def test_no_import_circle() -> None:
    graph, done, path = _graph(), set(), []

    def visit(node: str) -> None:
        if node in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(node) :], node]))
        if node in done:
            return
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            visit(dep)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


def test_the_library_never_imports_the_cli_or_the_emulator() -> None:
    graph = _graph()
    for name, deps in graph.items():
        if name.startswith(("nanobanana.cli", "nanobanana.testing", "nanobanana.__main__")):
            continue
        bad = {d for d in deps if d.startswith(("nanobanana.cli", "nanobanana.testing"))}
        assert not bad, f"{name} imports {bad}"
    for name, deps in graph.items():
        if name.startswith("nanobanana.testing"):
            assert not deps & {"nanobanana._core", "nanobanana._result"}, name


def test_modules_stay_small() -> None:
    big = {
        str(f.relative_to(ROOT)): n
        for f in SRC.rglob("*.py")
        if (n := len(f.read_text(encoding="utf-8").splitlines())) >= MAX_MODULE_LINES
    }
    assert not big, f"modules of {MAX_MODULE_LINES} lines or more: {big}"
