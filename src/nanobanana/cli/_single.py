"""``generate`` and ``sheet``: one request, its images saved and recorded in the manifest."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import CharacterSheet, GenerationRequest
from .._errors import GenerationError
from .._images.fit import prepare_references
from .._images.generated import GeneratedImage, save_new
from .._request.options import Search
from .._result.result import Result
from .._runs.lock import FolderLock
from ._connect import client, references
from ._console import Console
from ._files import Target, free_stem, readable_stem, resolve_target
from ._progress import Live, duration, money
from ._record import Record

__all__ = ["dry_run", "generate", "maybe_gallery", "plural", "sheet", "waiting_for"]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _options(args: argparse.Namespace) -> dict[str, Any]:
    search: Any = Search(images=True) if args.image_search else args.search or None
    return {"references": references(args), "aspect_ratio": args.aspect, "size": args.size,
            "include_thoughts": args.keep_thoughts, "search": search,
            "thinking_level": args.thinking, "image_only": args.image_only, "n": args.n,
            **({"model": args.model} if args.model else {})}  # fmt: skip


def generate(args: argparse.Namespace, console: Console) -> int:
    request = GenerationRequest(args.prompt, **_options(args))
    return run_one(args, console, request, readable_stem(args.prompt))


def sheet(args: argparse.Namespace, console: Console) -> int:
    options: dict[str, Any] = {"character": args.character, "features": args.feature}
    if args.view:
        options["views"] = args.view
    if args.art_style:
        options["style"] = args.art_style
    template = CharacterSheet(**options)
    return run_one(args, console, GenerationRequest(template, **_options(args)),
                   readable_stem(template))  # fmt: skip


def waiting_for(request: GenerationRequest, what: str = "waiting for") -> str:
    """``waiting for gemini-3-pro-image (2K, 3 images)``."""
    size = request.size.value if request.size else "1K"
    n = request.expected_images
    return f"{what} {request.model} ({size}{', ' + plural(n, 'image') if n > 1 else ''})"


def _describe(request: GenerationRequest) -> dict[str, Any]:

    return {
        "model": request.model,
        "prompt": request.prompt,
        "aspect_ratio": request.aspect_ratio.value if request.aspect_ratio else None,
        "size": request.size.value if request.size else None,
        "references": [
            {"kind": r.kind, "source": r.label(i)} for i, r in enumerate(request.references)
        ],
        "expected_images": request.expected_images,
        "estimated_cost_usd": request.estimated_cost(),
    }


def dry_run(console: Console, requests: Sequence[GenerationRequest]) -> int:
    """Checks every request (references read and fitted) and prints the estimate; sends nothing."""
    described = [_describe(r) for r in requests]
    for r in requests:
        prepare_references(r)
    total = sum(d["estimated_cost_usd"] or 0 for d in described)
    lines = [
        f"{d['model']} · {d['aspect_ratio'] or 'auto'} · {d['size'] or '1K'} · "
        f"{plural(len(d['references']), 'reference')} · {plural(d['expected_images'], 'image')}"
        f" · ~{money(d['estimated_cost_usd'])}\n  {d['prompt'][:200]}"
        for d in described
    ]
    lines.append(f"{plural(len(requests), 'request')}, estimated {money(total)}; "
                 "nothing was sent (dry run)")  # fmt: skip
    console.emit({"requests": described, "estimated_cost_usd": total}, "\n".join(lines))
    return 0


def run_one(
    args: argparse.Namespace, console: Console, request: GenerationRequest, stem: str
) -> int:
    """Generates one request, saves its images under free names, records it, reports it."""
    target = resolve_target(args.out)  # a bad -o is refused before anything is sent
    if args.dry_run:
        return dry_run(console, [request])
    code = 0
    for _ in range(request.n):  # each of --n copies is its own request, file and manifest item
        code = max(code, _one(args, console, request, target, stem))
    return code


def _one(
    args: argparse.Namespace, console: Console, request: GenerationRequest, target: Target,
    stem: str,
) -> int:  # fmt: skip
    record = Record(target.folder)
    key = record.new_key(request)
    with client(args) as nb:
        live = Live(console.status, lambda t: f"{waiting_for(request)} · {duration(t)}")
        with live, live.notes_from_retries():
            try:
                result = nb.generate_request(request)
            except GenerationError as exc:
                with _writing(target.folder):
                    record.failed(request, key, exc)
                maybe_gallery(args, console, target.folder)
                raise
    stem = target.stem or f"{stem}-{key[:8]}"
    with _writing(target.folder):  # one writer per folder while the answer is written
        paths = save_images(console, result.images, target, stem)
        thoughts = save_images(console, result.thought_images, target, f"{stem}-thought",
                               numbered=True)  # fmt: skip
        entry = record.ok(request, key, result, [p.name for p in paths])
    maybe_gallery(args, console, target.folder)
    console.emit(
        {"images": [str(p) for p in paths], "thought_images": [str(p) for p in thoughts],
         "text": result.text, "finish_reason": result.finish_reason, "cost_usd": result.cost,
         "usage": entry["usage"], "response_id": result.response_id,
         "grounding": entry.get("grounding")},
        "\n".join(str(p) for p in [*paths, *thoughts])
        + f"\n{plural(len(paths), 'image')}, about {money(result.cost)}" + _missing(result)
        + _sources(result),
    )  # fmt: skip
    return 0


def _sources(result: Result) -> str:
    """What a grounded image searched for and drew on (Google's terms ask that it be shown)."""
    grounding = result.grounding
    if grounding is None:
        return ""
    lines = []
    queries = [*grounding.queries, *grounding.image_queries]
    if queries:
        lines.append("searched: " + "; ".join(queries))
    sources = [*grounding.sources, *grounding.image_sources]
    if sources:
        lines.append("sources:")
        lines += [f"  {s.title or s.domain or 'source'} {s.uri}" for s in sources]
    return "".join("\n" + line for line in lines)


def _writing(folder: Path) -> FolderLock:
    """The folder's writer lock, taken only to write an answer.

    Another command's save takes a moment: wait for it rather than refuse.
    """
    return FolderLock(folder, wait=_WAIT_FOR_WRITER)


#: Seconds a single-shot command waits for another writer of its folder.
_WAIT_FOR_WRITER = 60.0


def _missing(result: Result) -> str:
    return f" ({result.missing} of the images asked for did not come)" if result.missing else ""


def save_images(
    console: Console,
    images: Sequence[GeneratedImage],
    target: Target,
    stem: str,
    *,
    numbered: bool = False,
) -> list[Path]:
    """Saves each image under a free name; says so when it is not the name asked for.

    The images of one result keep together: ``robot-2-1.jpg`` ... ``robot-2-3.jpg`` when
    ``robot-1.jpg`` is taken, not ``robot-1-2.jpg``.
    """
    many = numbered or len(images) > 1
    free = free_stem(target.folder, stem, len(images)) if many else stem
    paths = [
        save_new(image.data, target.folder, f"{free}-{k}" if many else free, target.suffix)
        for k, image in enumerate(images, 1)
    ]
    if target.suffix and paths:
        asked = f"{stem}-1" if many else stem
        if free != stem or paths[0].stem != (f"{free}-1" if many else free):
            console.note(f"note: {asked}{target.suffix} exists; wrote {_span(paths)}")
        elif paths[0].suffix != target.suffix:
            console.note(f"note: the image is {paths[0].suffix[1:].upper()}; wrote {_span(paths)}")
    return paths


def _span(paths: Sequence[Path]) -> str:
    return str(paths[0]) if len(paths) == 1 else f"{paths[0]} to {paths[-1].name}"


def maybe_gallery(args: argparse.Namespace, console: Console, folder: Path) -> None:
    if getattr(args, "gallery", False):
        from .._runs.gallery import write_gallery

        console.note(f"gallery: {write_gallery(folder)}")
