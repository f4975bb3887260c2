"""``gallery`` and ``demo``."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from ._console import Console
from ._progress import Live, duration, money

__all__ = ["DEMO_JOBS", "demo", "gallery"]

DEMO_JOBS = (
    ("A red fox curled up asleep in fresh snow at dawn, soft golden light", "16:9", "2K"),
    (
        "A character sheet with three views of a small robot gardener: a full-body three-quarter "
        "view, a close-up portrait, and an expression sheet, in one consistent style",
        "3:2",
        "1K",
    ),
    ("A minimalist travel poster of a banana-shaped island", "9:16", "1K"),
)


def gallery(args: argparse.Namespace, console: Console) -> int:
    from .._runs.gallery import write_gallery

    console.say(str(write_gallery(args.folder, args.output)))
    return 0


def demo(args: argparse.Namespace, console: Console) -> int:
    from .. import GenerationRequest
    from .._runs.gallery import write_gallery
    from ._connect import client
    from ._record import JobView

    out = Path(args.out)
    requests = [
        GenerationRequest(p, aspect_ratio=r, size=s, include_thoughts=True) for p, r, s in DEMO_JOBS
    ]
    with client(args) as nb:
        console.say("Emulator running: offline, no key, no cost.")
        what = f"generating {len(requests)} demo requests"
        with Live(console.status, lambda t: f"{what} · {duration(t)}"):
            nb.generate_many(requests, out_dir=out, progress=False)
    entries = JobView(out, requests).entries()  # this run's, or an earlier run's
    for entry in entries:
        for name in entry.get("images", []):
            console.say(f"  {out / name}")
    console.say(f"Gallery: {write_gallery(out)}")
    cost = sum(e.get("cost", 0.0) for e in entries)
    console.say(f"Done. The same calls against the real API would cost about {money(cost)}.")
    return 0


def models(args: argparse.Namespace, console: Console) -> int:
    """The models the key can use, with what nanobanana knows of each and their lifecycle.

    Then the registry's models that were shut down.
    """
    from .._models.catalog import ModelSummary
    from .._models.registry import MODELS
    from ._connect import client

    with client(args) as nb:
        listed = nb.models()
    gone = [
        ModelSummary(id=m.id, display_name=m.name, info=m)
        for m in MODELS.values()
        if m.lifecycle.shutdown and m.id not in {s.id for s in listed}
    ]
    rows = [
        {
            "id": m.id,
            "name": m.display_name,
            "known": m.info is not None,
            "listed": m in listed,
            "retired": m.retired,
            "replacement": m.replacement or m.lifecycle.replacement,
            "usd_per_1k_image": m.price_per_image,
            "lifecycle": {
                "released": _iso(m.lifecycle.released),
                "shutdown": {b: _iso(d) for b, d in m.lifecycle.shutdown.items()},
                "replacement": m.lifecycle.replacement,
            },
        }
        for m in [*listed, *gone]
    ]
    lines = []
    for m in listed:
        price = money(m.price_per_image) if m.price_per_image else "price unknown"
        note = f"  retired: use {m.replacement}" if m.retired else ""
        note += "" if m.info else "  (not in nanobanana's registry: syntax checks only)"
        life = m.lifecycle.describe()
        note += f"  [{life}]" if life != "current" and not m.retired else ""
        lines.append(f"{m.id:<34} {price:>14} per 1K image{note}")
    if gone:
        lines += ["", "Shut down (not listed for this key):"]
        lines += [f"{m.id:<34} {m.lifecycle.describe()}" for m in gone]
    console.emit({"models": rows}, "\n".join(lines))
    return 0


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
