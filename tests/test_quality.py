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

#: The house in layers (STYLE.md): a module imports only its own package and the layers below.
LAYERS = [
    {"_errors"},
    {"_models"},
    {"_images"},
    {"_request"},
    {"_result", "_retry"},
    {"prompts"},
    {"_core"},
    {"_auth", "_transport"},
    {"_stream", "_sessions", "_batch", "_runs"},
    {"_client"},
    {"cli", "testing", "__main__", "beam", "mcp"},
]
#: What does I/O: reads or writes files, sleeps, reads the clock, or runs threads.
IO_STDLIB = {
    "time",
    "asyncio",
    "threading",
    "concurrent",
    "shutil",
    "tempfile",
    "socket",
    "pathlib",
}
#: The only exceptions, each a method kept for 0.1 callers that defers to where the work lives.
SHIMS = {
    ("nanobanana._request.request", "nanobanana._core.wire"): "GenerationRequest.to_genai",
    (
        "nanobanana._request.request",
        "nanobanana._images.fit",
    ): "GenerationRequest.prepare_references",
    ("nanobanana._request.reference", "nanobanana._images.read"): "Reference.load",
}
IO_MODULES = (
    "nanobanana._images.read",
    "nanobanana._images.fit",
    "nanobanana._runs",
    "nanobanana._sessions.file",
    "nanobanana._transport",
    "nanobanana._auth",
)


def _layer(module: str) -> int:
    top = module.split(".")[1]
    return next(i for i, names in enumerate(LAYERS) if top in names)


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
        graph[name] = {
            dep
            for dep in _imports(file, package) - {name, "nanobanana"}
            if (name, dep) not in SHIMS
        }
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
        if name.startswith(
            ("nanobanana.cli", "nanobanana.testing", "nanobanana.__main__", "nanobanana.mcp")
        ):
            continue
        bad = {d for d in deps if d.startswith(("nanobanana.cli", "nanobanana.testing"))}
        assert not bad, f"{name} imports {bad}"
    for name, deps in graph.items():
        if not name.startswith(("nanobanana.cli", "nanobanana.mcp")):
            assert not {d for d in deps if d.startswith("nanobanana.mcp")}, name
    for name, deps in graph.items():
        if name.startswith("nanobanana.testing"):
            assert not {
                d for d in deps if d.startswith(("nanobanana._core", "nanobanana._result"))
            }, name


def test_each_package_imports_only_the_layers_below_it() -> None:
    graph = _graph()
    wrong = [
        f"{name} imports {dep}"
        for name, deps in graph.items()
        for dep in deps
        if _layer(dep) > _layer(name)
    ]
    assert not wrong, wrong


def _stdlib_imports(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", ["_core", "_request", "_models"])
def test_the_core_and_the_request_do_no_io(package: str) -> None:
    """`_core`, `_request` and `_models` never read or write files, sleep or read the clock."""
    graph = _graph()
    for file in (SRC / package).rglob("*.py"):
        name = ".".join(file.relative_to(ROOT / "src").with_suffix("").parts).removesuffix(
            ".__init__"
        )
        assert not _stdlib_imports(file) & IO_STDLIB, (name, _stdlib_imports(file) & IO_STDLIB)
        io = {d for d in graph.get(name, ()) if d.startswith(IO_MODULES)}
        assert not io, f"{name} imports {io}"


def test_the_registry_imports_nothing_above_it() -> None:
    for name, deps in _graph().items():
        if name.startswith("nanobanana._models"):
            assert all(d.startswith(("nanobanana._models", "nanobanana._errors")) for d in deps)


@pytest.mark.parametrize("shell", ["cli", "mcp", "beam"])
def test_the_shells_use_no_private_names(shell: str) -> None:
    """The CLI, the MCP server and beam call the library's public (or documented internal)
    names only: no ``_name`` imported, no ``obj._attr`` of an object not their own."""
    import ast

    found = []
    for file in sorted((SRC / shell).rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.Attribute) and not (
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            ):
                names = [node.attr]
            else:
                continue
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    found.append(f"{file.relative_to(SRC)}:{node.lineno}: {name}")
    assert not found, found
