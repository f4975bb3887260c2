"""14 phone photos as references, end to end against one emulator, both ways."""

from __future__ import annotations

import os
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ._common import Options, Row, cpu_and_wall, emulator_process, interleaved, median_ratio

PROMPT = "Put every one of these in one scene"


def phone_photos() -> list[Path]:
    """14 phone photos, 4000x3000 JPEG, 3-5 MB each (JPEG quality 90-95), half held upright.

    Made once (about 3 s each) and kept in the temporary directory between runs.
    """
    from nanobanana.testing import sample_photo

    folder = Path(tempfile.gettempdir()) / "nanobanana-bench-photos-v1"
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(14):
        path = folder / f"phone{i:02}.jpg"
        if not path.exists():
            data = sample_photo(
                4000, 3000, seed=i, quality=90 + i % 6, orientation=6 if i % 2 else None
            )
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        paths.append(path)
    return paths


def _naive_size(paths: list[Path]) -> int:
    """The request google-genai sends for these photos as PIL images (its own encoding)."""
    from google.genai import _transformers
    from PIL import Image

    return sum(4 * -(-len(_transformers.pil_to_blob(Image.open(p)).data) // 3) for p in paths)


def bench_references(opts: Options) -> list[Row]:
    """nanobanana's generate vs google-genai given PIL images: what each costs end to end.

    The emulator runs in a process of its own, so this process's CPU time is the client's.
    """
    from google import genai
    from google.genai import types
    from PIL import Image

    from nanobanana import GenerationRequest, NanoBanana, Reference
    from nanobanana._images.fit import wire_size

    paths = phone_photos()
    mb = [p.stat().st_size / 1e6 for p in paths]
    refs = [Reference.object(p) for p in paths[:6]] + [Reference.human(p) for p in paths[6:11]]
    refs += [Reference.style(p) for p in paths[11:]]
    rounds = opts.pick(7, 3)
    outcome: list[str] = []
    with (
        emulator_process() as url,
        NanoBanana(api_key="bench", base_url=url) as nb,
        genai.Client(api_key="bench", http_options=types.HttpOptions(base_url=url)) as gc,
    ):

        def ours() -> None:
            nb.generate(PROMPT, references=refs)

        def naive() -> None:
            images = [Image.open(p) for p in paths]
            try:
                gc.models.generate_content(model="gemini-3-pro-image", contents=[PROMPT, *images])
            except Exception as exc:  # the API (and the emulator) refuse an 80 MB request
                outcome.append(f"{type(exc).__name__} {getattr(exc, 'code', '')}".strip())
            else:
                outcome.append("accepted")

        ours()  # warm: imports and connections are not what either side pays per call
        naive()
        times = cpu_and_wall({"ours": ours, "naive": naive}, rounds)
    sent = GenerationRequest(PROMPT, references=refs).prepare_references()
    size14 = sum(wire_size(len(i.data)) for i in sent)
    four = GenerationRequest(PROMPT, references=paths[:4]).prepare_references()
    size4, naive4 = sum(wire_size(len(i.data)) for i in four), _naive_size(paths[:4])
    wall = median_ratio([w for _, w in times["naive"]], [w for _, w in times["ours"]])
    cpu = median_ratio([c for c, _ in times["naive"]], [c for c, _ in times["ours"]])
    sizes = {(i.width, i.height) for i in sent}
    shapes = {tuple(sorted(s)) for s in sizes if s[0] and s[1]}  # upright and sideways alike
    med = lambda k, j: statistics.median(t[j] for t in times[k])  # noqa: E731
    return [
        Row(
            "14 phone photos: generate, end to end (s)",
            med("ours", 1),
            med("naive", 1),
            "s",
            ">= 5x faster",
            wall >= 5,
            f"{wall:.1f}x (median of {rounds} interleaved rounds, {os.cpu_count()} cores); "
            f"{min(mb):.1f}-{max(mb):.1f} MB each, {sum(mb):.0f} MB in; "
            f"google-genai + PIL: {outcome[-1]}",
        ),
        Row(
            "14 phone photos: client CPU (s)",
            med("ours", 0),
            med("naive", 0),
            "s",
            ">= 3x less",
            cpu >= 3,
            f"{cpu:.1f}x less (this process: user + system, every thread; the emulator "
            "runs in its own)",
        ),
        Row(
            "14 phone photos: request size (MB)",
            size14 / 1e6,
            _naive_size(paths) / 1e6,
            "MB",
            "<= 8 MB",
            size14 <= 8_000_000,
            "images as base64; reference: google-genai's encoding of the PIL images",
        ),
        Row(
            "4 phone photos: request size (MB)",
            size4 / 1e6,
            naive4 / 1e6,
            "MB",
            "<= 2 MB",
            size4 <= 2_000_000,
            f"{naive4 / size4:.0f}x smaller; sent as "
            + ", ".join(sorted({f"{i.width}x{i.height}" for i in four})),
        ),
        Row(
            "14 phone photos: sizes sent",
            len(shapes),
            1,
            "sizes",
            "one size",
            len(shapes) == 1,
            "sent as " + ", ".join(f"{w}x{h}" for w, h in sorted(sizes)) + " (upright and not)",
        ),
    ]


def _prepare_one(path: str) -> bytes:
    from nanobanana._images.bytes import RefSource
    from nanobanana._images.fit import _load, _shrink, reference_long_side

    return _shrink(_load(RefSource(path, path)), reference_long_side()).data


def bench_pool(opts: Options) -> list[Row]:
    """Reading and fitting 14 photos: worker threads vs a warm pool of processes."""
    import os

    from nanobanana._images.bytes import RefSource
    from nanobanana._images.fit import prepare_images

    paths = [str(p) for p in phone_photos()]
    sources = [RefSource(p, p) for p in paths]
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_prepare_one, paths))  # warm: interpreters started, Pillow imported

        times = interleaved(
            {
                "threads": lambda: prepare_images(sources, text_bytes=0, workers=workers),
                "processes": lambda: list(pool.map(_prepare_one, paths)),
                "one thread": lambda: prepare_images(sources, text_bytes=0, workers=1),
            },
            opts.pick(7, 3),
        )
    threads, procs, one = (
        statistics.median(times[k]) for k in ("threads", "processes", "one thread")
    )
    return [
        Row(
            f"prepare 14 photos: {workers} threads vs warm process pool (s)",
            threads,
            procs,
            "s",
            "threads not slower",
            median_ratio(times["processes"], times["threads"]) >= 0.9,
            f"processes/threads {median_ratio(times['processes'], times['threads']):.2f}x "
            f"(median round, 10% noise allowed); one thread: {one:.3f} s, "
            f"thread scaling {one / threads:.2f}x",
        )
    ]
