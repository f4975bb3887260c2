"""The client a command uses: the real API, or with ``--emulator`` the embedded one."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from .. import NanoBanana
from .._auth import API_KEY_ENV_VARS
from .._errors import InvalidRequestError, MissingAPIKeyError

__all__ = ["NO_KEY", "client", "references"]

NO_KEY = (
    "no API key: set GEMINI_API_KEY (get one at https://aistudio.google.com/apikey), "
    "or add --emulator to run offline on the built-in emulator"
)


@contextlib.contextmanager
def client(args: argparse.Namespace) -> Iterator[NanoBanana]:
    """The real API, or with ``--emulator`` the embedded one (no key, no network, no cost)."""
    options: dict[str, Any] = {"model": args.model} if args.model else {}
    if args.emulator:
        from ..testing import FakeGemini

        # Batch jobs finish at once offline: nobody should wait on a poll for an emulator.
        with (
            FakeGemini(batch_pending=0, batch_running=0) as server,
            NanoBanana(api_key="emulator", base_url=server.url, **options) as nb,
        ):
            yield nb
        return
    if not any(os.environ.get(v) for v in API_KEY_ENV_VARS):
        raise MissingAPIKeyError(NO_KEY)
    with NanoBanana(**options) as nb:
        yield nb


def references(args: argparse.Namespace) -> list[Any]:
    """The ``-r``/``--human``/``--style`` images, checked to be readable files."""
    from .. import Reference

    refs = []
    for paths, make in ((args.ref, Reference.object), (args.human, Reference.human),
                        (args.style, Reference.style)):  # fmt: skip
        for path in paths:
            if os.path.isdir(path):
                raise InvalidRequestError(f"{path}: a folder; a reference is one image file")
            refs.append(make(path))
    return refs
