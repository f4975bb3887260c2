"""MCP roots, a Batch API job run to its results, and cancellation: no real time waited.

The emulator runs in this process, so its clock and its sleep are the test's: a batch job
finishes when its `ManualClock` moves, and a slow answer is held until the test releases it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import anyio
import mcp_types as types

from nanobanana.testing import FakeGemini, Fault, ManualClock
from tests.conftest import photo

from .conftest import connect


def manifest(out: Path) -> list[dict]:
    lines = (out / "manifest.jsonl").read_text().splitlines()[1:]
    return [json.loads(line) for line in lines]


async def test_references_are_read_only_under_the_clients_roots(
    fake_gemini: FakeGemini, out: Path, tmp_path: Path
) -> None:
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir()
    private.mkdir()
    (shared / "cat.jpg").write_bytes(photo(320, 240, seed=1))
    (private / "id.jpg").write_bytes(photo(320, 240, seed=2))
    (shared / "link.jpg").symlink_to(private / "id.jpg")  # inside by name, outside in fact

    async def roots(context: object) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=shared.as_uri(), name="shared")])

    async with connect(fake_gemini.url, out, list_roots_callback=roots) as client:
        ok = await client.call_tool(
            "generate_image",
            {"prompt": "this cat as a fox", "references": [str(shared / "cat.jpg")]},
        )
        assert not ok.is_error, ok.content
        parts = fake_gemini.generate_requests[-1].body["contents"][0]["parts"]
        assert len(parts) == 2 and "inlineData" in parts[1]

        for outside in (
            str(private / "id.jpg"),
            str(shared / ".." / "private" / "id.jpg"),
            str(shared / "link.jpg"),
            (private / "id.jpg").as_uri(),
        ):
            refused = await client.call_tool(
                "generate_image", {"prompt": "x", "references": [outside]}
            )
            assert refused.is_error, outside
            allowed = refused.content[0].text.split("the folders the user allowed: ")[1]
            assert str(shared) in allowed and str(private) not in allowed, allowed
        assert len(fake_gemini.generate_requests) == 1  # nothing outside the root was sent

    async with connect(fake_gemini.url, out) as client:  # a client without roots
        refused = await client.call_tool(
            "generate_image", {"prompt": "x", "references": [str(shared / "cat.jpg")]}
        )
        assert refused.is_error
        assert str(shared) not in refused.content[0].text.split("user allowed: ")[1]


async def test_batch_results_once_the_job_is_done(out: Path) -> None:
    clock = ManualClock()
    with FakeGemini(clock=clock, batch_pending=60, batch_running=600) as gemini:
        async with connect(gemini.url, out) as client:
            job = await client.call_tool(
                "batch_submit", {"prompts": ["a red fox", "a blue hare"], "max_cost": 1}
            )
            assert not job.is_error, job.content
            name = job.structured_content["name"]
            assert job.structured_content["cost_usd"] > 0

            early = await client.call_tool("batch_results", {"name": name})
            assert early.is_error and "not finished" in early.content[0].text
            assert not list(out.glob("*.jpg"))

            clock.advance(61)
            status = await client.call_tool("batch_status", {"name": name})
            assert status.structured_content["status"] == "JOB_STATE_RUNNING"

            clock.advance(600)
            done = await client.call_tool("batch_results", {"name": name})
            assert not done.is_error, done.content
            result = done.structured_content
            assert result["status"] == "JOB_STATE_SUCCEEDED" and not result["errors"]
            assert len(result["images"]) == 2 and result["cost_usd"] > 0
            for image in result["images"]:
                path = Path(image["path"])
                assert path.parent == out and path.stat().st_size == image["bytes"]
                full = await client.read_resource(image["uri"])
                assert full.contents[0].blob  # readable as a resource, like any other image
            lines = manifest(out)
            assert len([e for e in lines if e.get("status") == "ok"]) == 2, lines

            again = await client.call_tool("batch_results", {"name": name})
            assert sorted(i["path"] for i in again.structured_content["images"]) == sorted(
                i["path"] for i in result["images"]
            )
            assert len(list(out.glob("*.jpg"))) == 2  # asking twice saves nothing twice
        assert not gemini.generate_requests  # all of it went through the Batch API


class Held:
    """An emulator ``sleep`` that says a slow answer has arrived, then holds it until released.

    One per answer: ``Fault.slow`` makes the emulator call it; ``next()`` arms the next one.
    """

    def __init__(self) -> None:
        self.next()

    def next(self) -> None:
        self.arrived, self.release = threading.Event(), threading.Event()

    def __call__(self, seconds: float) -> None:
        self.arrived.set()
        assert self.release.wait(30), "the test never released the answer"


async def test_progress_and_cancellation_while_an_answer_is_held(out: Path) -> None:
    held = Held()
    with FakeGemini(sleep=held) as gemini:
        async with connect(gemini.url, out, "--progress-every", "0.02") as client:
            seen: list[float] = []

            async def progress(value: float, total: float | None, message: str | None) -> None:
                seen.append(value)
                if len(seen) >= 3:
                    held.release.set()  # three reports while the call was out: let it answer

            gemini.push(Fault.slow(100))
            slow = await client.call_tool(
                "generate_image", {"prompt": "slow"}, progress_callback=progress
            )
            assert held.arrived.is_set() and not slow.is_error
            assert len(seen) >= 3 and seen == sorted(seen)

            held.next()
            gemini.push(Fault.slow(100))
            answered: list[object] = []
            async with anyio.create_task_group() as group:

                async def call() -> None:
                    answered.append(
                        await client.call_tool("generate_image", {"prompt": "paid for"})
                    )

                group.start_soon(call)
                await anyio.to_thread.run_sync(held.arrived.wait, 30)  # the request is out: paid
                group.cancel_scope.cancel()  # the agent gives up
            assert not answered
            held.release.set()  # the answer comes after all

            with anyio.fail_after(30):
                while len(manifest(out)) < 2:
                    await anyio.sleep(0.01)  # the server saves and records it on its own time
            assert [e["status"] for e in manifest(out)] == ["ok", "ok"]
            assert len(list(out.glob("paid-for-*.jpg"))) == 1
            alive = await client.call_tool("generate_image", {"prompt": "after"})
            assert not alive.is_error  # the server lives on


async def test_a_busy_output_folder_refuses_the_call_before_anything_is_paid(out: Path) -> None:
    from nanobanana._runs.lock import FolderLock

    out.mkdir(parents=True)
    other = FolderLock(out)  # another writer: a run, or a second server, on the same folder
    other.acquire()
    with FakeGemini() as gemini:
        async with connect(gemini.url, out, "--wait", "0") as client:
            try:
                busy = await client.call_tool("generate_image", {"prompt": "a red fox"})
                assert busy.is_error and "FolderInUseError" in busy.content[0].text, busy.content
                assert gemini.generate_requests == []  # refused before anything was paid
            finally:
                other.release()
            made = await client.call_tool("generate_image", {"prompt": "a red fox"})
            assert not made.is_error, made.content
            assert len(gemini.generate_requests) == 1
        other.acquire(), other.release()  # the server let go once its call was written
