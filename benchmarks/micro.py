"""Small things users pay for on every call: saving, parsing, starting up."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from ._common import ENV, Options, Row, emulator, interleaved, median_ratio, scratch


def bench_save(opts: Options) -> list[Row]:
    """Saving a received 4K JPEG: save() vs writing the bytes vs the docs' old Pillow snippet."""
    from PIL import Image

    from nanobanana import GeneratedImage
    from nanobanana.testing import sample_photo

    data = sample_photo(5504, 3072, seed=3, quality=90)
    image = GeneratedImage(data, "image/jpeg")
    tmp = scratch("save")
    names = iter(range(10**6))  # each run writes a new file, as saving new images does

    def direct() -> None:
        with open(tmp / f"direct{next(names)}.jpg", "wb") as handle:
            handle.write(data)

    times = interleaved(
        {"ours": lambda: image.save(tmp / f"ours{next(names)}.jpg"), "raw": direct},
        opts.pick(15, 7),
    )
    pil = interleaved(
        {
            "ours": lambda: image.save(tmp / f"ours{next(names)}.jpg"),
            "pil": lambda: Image.open(io.BytesIO(data)).save(tmp / "docs.png"),
        },
        opts.pick(3, 2),
    )
    shutil.rmtree(tmp)
    ratio = median_ratio(times["ours"], times["raw"])
    return [
        Row(
            "save 4K JPEG vs write the bytes (s)",
            statistics.median(times["ours"]),
            statistics.median(times["raw"]),
            "s",
            "<= 1.5x",
            ratio <= 1.5,
            f"{ratio:.2f}x; {len(data) / 1e6:.1f} MB, atomic (temp file + rename)",
        ),
        Row(
            "save 4K JPEG vs PIL .save('x.png') (s)",
            statistics.median(pil["ours"]),
            statistics.median(pil["pil"]),
            "s",
            "faster",
            median_ratio(pil["pil"], pil["ours"]) > 1,
        ),
    ]


def bench_parse(opts: Options) -> list[Row]:
    """Parsing a response with one 4K image and realistic thought signatures."""
    from google.genai import models, types
    from nanobanana._core.parse.parse import parse_body

    from nanobanana.testing import sample_photo

    image = sample_photo(5504, 3072, seed=4, quality=90)
    signature = os.urandom(1_500_000)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    body = json.dumps(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "Here you go", "thoughtSignature": b64(signature[:900_000])},
                            {"inlineData": {"mimeType": "image/jpeg", "data": b64(image)},
                             "thoughtSignature": b64(signature)},
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 2000,
                              "totalTokenCount": 2300, "thoughtsTokenCount": 288},
            "modelVersion": "gemini-3-pro-image",
            "responseId": "abc",
        }
    )  # fmt: skip

    def genai_parse() -> object:
        # What google-genai does in generate_content after the HTTP call.
        response = models._GenerateContentResponse_from_mldev(json.loads(body), None, None)
        return types.GenerateContentResponse._from_response(response=response, kwargs={})

    times = interleaved({"ours": lambda: parse_body(body), "genai": genai_parse}, opts.pick(15, 7))
    ratio = median_ratio(times["ours"], times["genai"])
    return [
        Row(
            "parse a 4K response (s)",
            statistics.median(times["ours"]),
            statistics.median(times["genai"]),
            "s",
            "<= 1.1x",
            ratio <= 1.1,
            f"{ratio:.2f}x; {len(body) / 1e6:.1f} MB body",
        )
    ]


def _run(*command: str) -> None:
    subprocess.run(command, check=True, env=ENV, stdout=subprocess.DEVNULL)


def bench_startup(opts: Options) -> list[Row]:
    """What a script pays before its first request: importing and building a client."""
    python = sys.executable
    script = Path(python).with_name("nanobanana")
    cli = [str(script)] if script.exists() else [python, "-m", "nanobanana"]
    times = interleaved(
        {
            "ours": lambda: _run(python, "-c", "from nanobanana import NanoBanana\n"
                                 "NanoBanana(api_key='k').close()"),
            "genai": lambda: _run(python, "-c", "from google import genai\n"
                                  "genai.Client(api_key='k').close()"),
            "help": lambda: _run(*cli, "--help"),
            "bare": lambda: _run(python, "-c", "pass"),
        },
        opts.pick(9, 5),
    )  # fmt: skip
    client = median_ratio(times["ours"], times["genai"])
    helps = median_ratio(times["help"], times["bare"])
    return [
        Row(
            "import + build a client (s)",
            statistics.median(times["ours"]),
            statistics.median(times["genai"]),
            "s",
            "<= 1.1x",
            client <= 1.1,
            f"{client:.2f}x vs google-genai's Client",
        ),
        Row(
            "nanobanana --help (s)",
            statistics.median(times["help"]),
            statistics.median(times["bare"]),
            "s",
            "<= 3x",
            helps <= 3,
            f"{helps:.2f}x python -c pass",
        ),
    ]


def bench_emulator(opts: Options) -> list[Row]:
    """Emulator start-up, and a 4K image: tests must not wait seconds."""
    import time

    from google import genai
    from google.genai import types

    start = time.perf_counter()
    with emulator(cheap_images=False) as server:
        started = time.perf_counter() - start
        config = types.GenerateContentConfig(
            image_config=types.ImageConfig(aspect_ratio="21:9", image_size="4K")
        )
        with genai.Client(
            api_key="b", http_options=types.HttpOptions(base_url=server.url)
        ) as client:
            times = []
            for i in range(opts.pick(5, 3)):
                t0 = time.perf_counter()
                client.models.generate_content(
                    model="gemini-3-pro-image", contents=f"fox {i}", config=config
                )
                times.append(time.perf_counter() - t0)
    answer = statistics.median(times)
    return [
        Row("emulator start (s)", started, 1.0, "s", "< 1 s", started < 1.0),
        Row(
            "emulator 4K answer (s)",
            answer,
            50.0,
            "s",
            "< 1 s",
            answer < 1.0,
            "vs the real 50-120 s",
        ),
    ]
