"""14 phone photos as references, end to end against one emulator, both ways."""

from __future__ import annotations

import base64
import io
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ._common import Options, Row, emulator, interleaved, median_ratio

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


def _sizes_sent(body: dict) -> set[tuple[int, int]]:
    from PIL import Image

    parts = body["contents"][-1]["parts"]
    return {
        Image.open(io.BytesIO(base64.b64decode(_std(p["inlineData"]["data"])))).size
        for p in parts
        if "inlineData" in p
    }


def bench_references(opts: Options) -> list[Row]:
    """nanobanana's generate vs google-genai given PIL images: what each costs end to end."""
    from google import genai
    from google.genai import types
    from PIL import Image

    from nanobanana import NanoBanana, Reference

    paths = phone_photos()
    mb = [p.stat().st_size / 1e6 for p in paths]
    refs = [Reference.object(p) for p in paths[:6]] + [Reference.human(p) for p in paths[6:11]]
    refs += [Reference.style(p) for p in paths[11:]]
    rounds = opts.pick(7, 3)
    with (
        emulator() as server,
        NanoBanana(api_key="bench", base_url=server.url) as nb,
        genai.Client(api_key="bench", http_options=types.HttpOptions(base_url=server.url)) as gc,
    ):

        def ours() -> None:
            nb.generate(PROMPT, references=refs)

        outcome: list[str] = []

        def naive() -> None:
            images = [Image.open(p) for p in paths]
            try:
                gc.models.generate_content(model="gemini-3-pro-image", contents=[PROMPT, *images])
            except Exception as exc:  # the API (and the emulator) refuse an 80 MB request
                outcome.append(f"{type(exc).__name__} {getattr(exc, 'code', '')}".strip())
            else:
                outcome.append("accepted")

        largest, last_ok = [0], []

        def forget() -> None:  # the emulator's records are not what either side pays for
            for r in server.generate_requests:
                largest[0] = max(largest[0], r.size)
                last_ok[:] = [r] if r.status == 200 else last_ok
            server.requests.clear()

        times = interleaved({"ours": ours, "naive": naive}, rounds, setup=forget)
        forget()
        ours_req, naive_size = last_ok[0], largest[0]
        sizes = _sizes_sent(ours_req.body)
    speedup = median_ratio(times["naive"], times["ours"])
    shapes = {tuple(sorted(s)) for s in sizes}  # upright and sideways photos of one size
    return [
        Row(
            "14 phone photos: generate, end to end (s)",
            statistics.median(times["ours"]),
            statistics.median(times["naive"]),
            "s",
            ">= 5x faster",
            speedup >= 5,
            f"{speedup:.1f}x (median of {rounds} interleaved rounds); "
            f"{min(mb):.1f}-{max(mb):.1f} MB each, {sum(mb):.0f} MB in; "
            f"google-genai + PIL: {outcome[-1]}",
        ),
        Row(
            "14 phone photos: request size (MB)",
            ours_req.size / 1e6,
            naive_size / 1e6,
            "MB",
            "<= 8 MB",
            ours_req.size <= 8_000_000,
            "base64 and JSON included",
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


def _std(data: str) -> str:
    """google-genai sends URL-safe base64; the API takes both alphabets."""
    return data.replace("-", "+").replace("_", "/")
