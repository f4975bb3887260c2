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

    from nanobanana._core.parse import parse_body
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


def bench_per_call(opts: Options) -> list[Row]:
    """What the SDK costs per call over raw google-genai, at zero latency (generate + save).

    The emulator runs in its own process: this process's CPU time is the client's alone.
    """
    import asyncio

    from google import genai
    from google.genai import types

    from nanobanana import AsyncNanoBanana, NanoBanana, RetryPolicy

    from ._common import cpu_and_wall, emulator_process

    calls, rounds = opts.pick(100, 40), opts.pick(6, 3)
    wide, many = 64, opts.pick(512, 256)
    tmp = scratch("percall")
    names = iter(range(10**9))
    model = "gemini-3-pro-image"
    # What Google's image generation examples pass, and what nanobanana sends by default: the
    # same request on the wire. (google-genai spends ~0.7 ms converting any config.)
    config = types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"])

    def first_image(response: types.GenerateContentResponse) -> bytes:
        part = next(p for p in response.candidates[0].content.parts if p.inline_data)  # type: ignore[index, union-attr]
        return part.inline_data.data  # type: ignore[union-attr, return-value]

    with emulator_process() as url:
        nb = NanoBanana(api_key="b", base_url=url, retry=RetryPolicy.none())
        raw = genai.Client(api_key="b", http_options=types.HttpOptions(base_url=url))

        def ours() -> None:
            for i in range(calls):
                nb.generate(f"icon {i}").image.save(tmp / f"o{next(names)}")

        def naive() -> None:
            for i in range(calls):
                data = first_image(
                    raw.models.generate_content(model=model, contents=f"icon {i}", config=config)
                )
                (tmp / f"n{next(names)}.jpg").write_bytes(data)

        ours()  # warm: connections, imports
        naive()
        sync = cpu_and_wall({"ours": ours, "naive": naive}, rounds)
        nb.close()
        raw.close()

        async def ours_async() -> None:
            async with AsyncNanoBanana(api_key="b", base_url=url, retry=RetryPolicy.none()) as anb:
                gate = asyncio.Semaphore(wide)

                async def one(i: int) -> None:
                    async with gate:
                        (await anb.generate(f"icon {i}")).image.save(tmp / f"a{next(names)}")

                await asyncio.gather(*(one(i) for i in range(many)))

        async def naive_async() -> None:
            client = genai.Client(api_key="b", http_options=types.HttpOptions(base_url=url))
            gate = asyncio.Semaphore(wide)

            async def one(i: int) -> None:
                async with gate:
                    r = await client.aio.models.generate_content(
                        model=model, contents=f"icon {i}", config=config
                    )
                    (tmp / f"b{next(names)}.jpg").write_bytes(first_image(r))

            await asyncio.gather(*(one(i) for i in range(many)))
            await client.aio.aclose()

        def ours_many() -> None:
            with NanoBanana(api_key="b", base_url=url, retry=RetryPolicy.none()) as run_nb:
                folder = scratch("many")
                run_nb.generate_many(
                    (f"icon {i}" for i in range(many)), out_dir=folder, concurrency=wide,
                    progress=False,
                )  # fmt: skip
                shutil.rmtree(folder)

        conc = cpu_and_wall(
            {
                "ours": lambda: asyncio.run(ours_async()),
                "naive": lambda: asyncio.run(naive_async()),
                "many": ours_many,
            },
            rounds,
        )
    shutil.rmtree(tmp)
    cpu = median_ratio([c for c, _ in sync["ours"]], [c for c, _ in sync["naive"]])
    per_call = lambda k: statistics.median(c for c, _ in sync[k]) / calls * 1000  # noqa: E731
    rate = lambda k: statistics.median(many / w for _, w in conc[k])  # noqa: E731
    async_ratio = median_ratio([w for _, w in conc["naive"]], [w for _, w in conc["ours"]])
    many_ratio = median_ratio([w for _, w in conc["naive"]], [w for _, w in conc["many"]])
    return [
        Row(
            "client CPU per call, 1K generate + save (ms)",
            per_call("ours"),
            per_call("naive"),
            "ms",
            "<= 1.05x",
            cpu <= 1.05,
            f"{cpu:.2f}x raw google-genai (generate_content with the same config + write the "
            "bytes); emulator in its own process",
        ),
        Row(
            f"AsyncNanoBanana, {wide} concurrent (req/s)",
            rate("ours"),
            rate("naive"),
            "req/s",
            ">= 0.95x",
            async_ratio >= 0.95,
            f"{async_ratio:.2f}x raw client.aio with a semaphore of {wide}, saving each",
        ),
        Row(
            f"generate_many, {many} images (req/s)",
            rate("many"),
            rate("naive"),
            "req/s",
            ">= 0.95x",
            many_ratio >= 0.95,
            f"{many_ratio:.2f}x the raw async loop with saves (concurrency={wide}, "
            "a generator of prompts, the manifest written)",
        ),
    ]
