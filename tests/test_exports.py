"""The public surface: `__all__` is importable, sorted, complete, and documented.

"Complete" is checked against the package itself, not against a `__dir__` built from
`__all__`: the static imports type checkers read, every error and warning the package can
raise, and every nanobanana class a public signature or client attribute hands to users.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import nanobanana
import nanobanana.testing

ROOT = Path(__file__).resolve().parent.parent
INIT = ROOT / "src" / "nanobanana" / "__init__.py"

# Classes that public signatures hand out but that are not exported, each with why. The test
# fails both ways: a new leak must be exported or made private, and an entry that is no
# longer reachable must go.
KNOWN_UNEXPORTED = {
    "nanobanana._request.request.GenaiCall": "GenerationRequest.to_genai, kept for 0.1 callers",
    "nanobanana._images.bytes.ImageBytes": "what prepare_references returns: bytes ready to send",
    "nanobanana.prompts._base.RequestDefaults": "Template.request_defaults",
    "nanobanana._errors.Outcome": "GenerationError.result's type: the Result, by its fields",
    "nanobanana._sessions.session._Client": "Session.load's client: any client with session()",
    "nanobanana._models.registry.ModelInfo": "ModelSummary.info: the registry's entry, read-only data",
    "nanobanana._models.registry.Lifecycle": "ModelSummary.lifecycle: registry data, read-only",
}


def test_every_name_imports() -> None:
    code = "import nanobanana\nfor n in nanobanana.__all__: getattr(nanobanana, n)\nprint('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr  # in a fresh interpreter: lazy imports work
    for name in nanobanana.__all__:
        value = getattr(nanobanana, name)
        assert getattr(value, "__name__", name) == name, f"{name} is exported as another name"
        assert value.__module__.startswith("nanobanana"), name


def test_all_is_sorted_unique_and_unknown_names_fail() -> None:
    assert nanobanana.__all__ == sorted(set(nanobanana.__all__))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        nanobanana.Nope  # noqa: B018


def _type_checking_imports() -> set[str]:
    """The names `__init__.py` imports for type checkers (its `if _TYPE_CHECKING:` block)."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for imp in ast.walk(node):
                if isinstance(imp, ast.ImportFrom):
                    names.update(alias.asname or alias.name for alias in imp.names)
    return names


def test_static_and_lazy_exports_agree() -> None:
    # What mypy and IDEs see must be what `from nanobanana import *` gives at run time.
    assert _type_checking_imports() == set(nanobanana.__all__)


def _package_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(nanobanana.__path__, "nanobanana."):
        if info.name.startswith(("nanobanana.testing", "nanobanana.cli", "nanobanana.__main__")):
            continue
        module = importlib.import_module(info.name)
        found += [
            value
            for value in vars(module).values()
            if inspect.isclass(value) and value.__module__ == info.name
        ]
    return found


def test_every_error_and_warning_is_exported() -> None:
    raised = {
        cls.__name__
        for cls in _package_classes()
        if issubclass(cls, (nanobanana.NanoBananaError, Warning))
        and not cls.__name__.startswith("_")
    }
    assert raised, "no error classes found: the walk is broken"
    assert raised - set(nanobanana.__all__) == set()


def _hint_namespace() -> dict[str, object]:
    from google import genai
    from google.auth.credentials import Credentials
    from google.genai import types
    from PIL import Image

    return {
        "Credentials": Credentials,
        **{name: getattr(nanobanana, name) for name in nanobanana.__all__},
        "genai": genai,
        "types": types,
        "Image": Image,
    }


def _classes_in(hint: object) -> set[type]:
    found = {hint} if inspect.isclass(hint) else set()
    for arg in typing.get_args(hint):
        found |= _classes_in(arg)
    return found


def _reachable() -> dict[str, str]:
    """nanobanana classes named in the signatures of exported callables, or held by a client."""
    reach: dict[str, str] = {}
    namespace = _hint_namespace()

    def note(cls: type, where: str) -> None:
        if cls.__module__.startswith("nanobanana") and not cls.__module__.startswith(
            "nanobanana.testing"
        ):
            reach.setdefault(f"{cls.__module__}.{cls.__qualname__}", where)

    for name in nanobanana.__all__:
        obj = getattr(nanobanana, name)
        members = [(name, obj)]
        if inspect.isclass(obj):
            members = [
                (f"{name}.{attr}", inspect.getattr_static(obj, attr))
                for attr in dir(obj)
                if not attr.startswith("_") or attr == "__init__"
            ]
        for where, member in members:
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            fn = getattr(member, "fget", None) or getattr(member, "func", None) or member
            if not inspect.isfunction(fn) or not fn.__module__.startswith("nanobanana"):
                continue  # pydantic's own methods on the templates are pydantic's business
            for hint in typing.get_type_hints(fn, localns=namespace).values():
                for cls in _classes_in(hint):
                    note(cls, where)
    nb = nanobanana.NanoBanana(api_key="exports-test")
    for attr in ("batch", "retry"):
        note(type(getattr(nb, attr)), f"NanoBanana.{attr}")
    return reach


def test_what_users_are_handed_is_exported() -> None:
    exported = {
        f"{v.__module__}.{v.__qualname__}"
        for v in (getattr(nanobanana, n) for n in nanobanana.__all__)
        if inspect.isclass(v)
    }
    leaked = {k: v for k, v in _reachable().items() if k not in exported}
    unexplained = {k: v for k, v in leaked.items() if k not in KNOWN_UNEXPORTED}
    assert unexplained == {}, "export these, make them private, or explain them"
    stale = set(KNOWN_UNEXPORTED) - set(leaked)
    assert stale == set(), "no longer handed out: remove from KNOWN_UNEXPORTED"


def _documented() -> set[str]:
    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    return {
        m.group(1)
        for page in pages
        for m in re.finditer(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), re.M)
    }


def test_api_pages_cover_every_export() -> None:
    documented = _documented()
    wanted = {f"nanobanana.{n}" for n in nanobanana.__all__}
    wanted |= {f"nanobanana.testing.{n}" for n in nanobanana.testing.__all__}
    assert sorted(wanted - documented) == [], "add `::: name` entries to docs/api.md"
    unknown = {d for d in documented if d.startswith("nanobanana")} - wanted
    assert sorted(unknown) == [], "documented names that are not exported"


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


@pytest.mark.parametrize(
    "call",
    [
        "NanoBanana.generate", "NanoBanana.stream", "NanoBanana.edit", "NanoBanana.session",
        "NanoBanana.generate_many", "AsyncNanoBanana.generate", "AsyncNanoBanana.generate_many",
        "Batches.submit", "Session.send", "AsyncSession.send",
    ],
)  # fmt: skip
def test_help_names_every_option(call: str) -> None:
    from typing import get_type_hints

    from nanobanana import RequestOptions

    owner, name = call.split(".")
    doc = getattr(getattr(nanobanana, owner), name).__doc__
    missing = [o for o in get_type_hints(RequestOptions) if f"    {o}:" not in doc]
    assert not missing, f"help({call}) does not name {missing}"
