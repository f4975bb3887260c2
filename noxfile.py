"""Developer tasks: ``nox -s tests lint typecheck docs bench``."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|venv"
nox.options.sessions = ["tests", "lint", "typecheck"]


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
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    _install(session, "dev")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    _install(session)
    session.install("mkdocs-material", "mkdocstrings[python]")
    session.run("mkdocs", "build", "--strict")


@nox.session
def faults(session: nox.Session) -> None:
    """The long hardening profile; rewrites docs/reliability.md."""
    _install(session, "dev")
    session.run("python", "-m", "tests.hardening.report")


@nox.session
def bench(session: nox.Session) -> None:
    _install(session, "dev")
    session.run("python", "-m", "benchmarks", *session.posargs)
