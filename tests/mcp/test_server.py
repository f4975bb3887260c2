"""The server driven by the MCP SDK's own client over stdio, on the emulator: every tool,
prompts, resources, progress, cancellation, concurrency, faults and bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import anyio
import pytest

from nanobanana.testing import FakeGemini, Fault

from .conftest import connect

TOOLS = {
    "generate_image",
    "edit_image",
    "session_start",
    "session_send",
    "session_undo",
    "session_list",
    "batch_submit",
    "batch_status",
    "batch_results",
    "list_models",
    "estimate_cost",
}


def manifest(out: Path) -> list[dict]:
    lines = (out / "manifest.jsonl").read_text().splitlines()[1:]
    return [json.loads(line) for line in lines]


async def test_every_tool_prompts_and_resources(fake_gemini: FakeGemini, out: Path) -> None:
    async with connect(fake_gemini.url, out, "--max-cost", "5") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        assert all(t.description and t.output_schema for t in tools.values())
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert {"CharacterSheet", "ProductShot"} <= prompts
        sheet = await client.get_prompt(
            "CharacterSheet", {"character": "a robot", "features": "red eye; copper can"}
        )
        assert "red eye and copper can" in sheet.messages[0].content.text

        made = await client.call_tool(
            "generate_image", {"prompt": "a red fox", "aspect_ratio": "16:9", "seed": 7}
        )
        assert not made.is_error, made.content
        data = made.structured_content
        (image,) = data["images"]
        assert Path(image["path"]).parent == out and Path(image["path"]).is_file()
        assert data["cost_usd"] > 0 and data["usage"]["total_tokens"] > 0
        assert data["budget_remaining_usd"] == pytest.approx(5 - data["cost_usd"])
        sent = fake_gemini.generate_requests[-1].body
        assert sent["generationConfig"]["imageConfig"]["aspectRatio"] == "16:9"
        assert sent["generationConfig"]["seed"] == 7
        kinds = [c.type for c in made.content]
        assert kinds == ["text", "resource_link", "image"]
        preview = base64.b64decode(made.content[2].data)
        assert len(preview) < 100_000 and preview[:2] == b"\xff\xd8"
        full = await client.read_resource(image["uri"])
        blob = base64.b64decode(full.contents[0].blob)
        assert (
            blob == Path(image["path"]).read_bytes() and full.contents[0].mime_type == "image/jpeg"
        )
        assert [e["status"] for e in manifest(out)] == ["ok"]

        edited = await client.call_tool(
            "edit_image", {"image": image["uri"], "instruction": "make it night"}
        )
        assert not edited.is_error, edited.content
        assert len(fake_gemini.generate_requests[-1].body["contents"][0]["parts"]) == 2

        quote = (
            await client.call_tool("estimate_cost", {"prompt": "x", "size": "4K", "count": 2})
        ).structured_content
        assert quote["usd_total"] == pytest.approx(2 * quote["usd_per_call"])
        assert quote["usd_total_batch"] < quote["usd_total"]

        models = (await client.call_tool("list_models", {})).structured_content["models"]
        by_id = {m["id"]: m for m in models}
        assert by_id["gemini-3-pro-image"]["status"] == "available"
        assert by_id["gemini-3-pro-image-preview"]["replacement"] == "gemini-3-pro-image"

        job = (await client.call_tool("batch_submit", {"prompts": ["a", "b"]})).structured_content
        status = (await client.call_tool("batch_status", {"name": job["name"]})).structured_content
        assert status["status"].startswith("JOB_STATE_")


async def test_bad_input_and_faults_are_tool_errors(
    fake_gemini: FakeGemini, out: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"\xff\xd8\xff")
    async with connect(fake_gemini.url, out, "--max-attempts", "2") as client:

        async def error(tool: str, args: dict) -> str:
            result = await client.call_tool(tool, args)
            assert result.is_error, result.structured_content
            return result.content[0].text

        assert "7:3" in await error("generate_image", {"prompt": "x", "aspect_ratio": "7:3"})
        assert "allowed" in await error(
            "generate_image", {"prompt": "x", "references": [str(secret)]}
        )
        assert "no session" in await error(
            "session_send", {"session_id": "nope", "instruction": "x"}
        )
        assert "count" in await error("generate_image", {"prompt": "x", "count": 99})
        assert not fake_gemini.generate_requests  # nothing was sent for any of them

        fake_gemini.push(Fault.blocked())
        assert "SafetyBlockedError" in await error("generate_image", {"prompt": "x"})
        fake_gemini.push(Fault.no_image())
        assert "NoImageError" in await error("generate_image", {"prompt": "x"})
        fake_gemini.push(Fault.unavailable(), Fault.unavailable())
        assert "ServerError" in await error("generate_image", {"prompt": "x"})
        fake_gemini.push(Fault.rate_limit(retry_delay=0.01))
        ok = await client.call_tool("generate_image", {"prompt": "after a 429"})
        assert not ok.is_error  # retried after the server's retryDelay
        statuses = [(e["status"], e.get("error", {}).get("type")) for e in manifest(out)]
        assert statuses == [
            ("failed", "SafetyBlockedError"),
            ("failed", "NoImageError"),
            ("failed", "ServerError"),
            ("ok", None),
        ]


async def test_budget_refusal_says_what_remains(fake_gemini: FakeGemini, out: Path) -> None:
    async with connect(fake_gemini.url, out, "--max-cost", "0.3") as client:
        first = await client.call_tool("generate_image", {"prompt": "a fox"})
        assert not first.is_error
        refused = await client.call_tool("generate_image", {"prompt": "a fox", "count": 2})
        assert refused.is_error and "remains" in refused.content[0].text
        capped = await client.call_tool("generate_image", {"prompt": "a fox", "max_cost": 0.01})
        assert capped.is_error and "max_cost" in capped.content[0].text
    assert len(fake_gemini.generate_requests) == 1


async def test_sessions_survive_a_restart_with_their_signatures(
    fake_gemini: FakeGemini, out: Path
) -> None:
    async with connect(fake_gemini.url, out) as client:
        started = (
            await client.call_tool("session_start", {"aspect_ratio": "1:1"})
        ).structured_content
        sid = started["session_id"]
        first = await client.call_tool("session_send", {"session_id": sid, "instruction": "a fox"})
        assert first.structured_content["turns"] == 1
    async with connect(fake_gemini.url, out) as client:  # a new server process
        listed = (await client.call_tool("session_list", {})).structured_content["sessions"]
        assert [s["session_id"] for s in listed] == [sid]
        second = await client.call_tool(
            "session_send", {"session_id": sid, "instruction": "now at night"}
        )
        assert not second.is_error, second.content
        assert second.structured_content["turns"] == 2
        contents = fake_gemini.generate_requests[-1].body["contents"]
        assert [c["role"] for c in contents] == ["user", "model", "user"]
        assert any(
            "thoughtSignature" in p or "thought_signature" in p for p in contents[1]["parts"]
        )
        undone = (await client.call_tool("session_undo", {"session_id": sid})).structured_content
        assert undone["turns"] == 1


async def test_concurrent_calls_each_save_their_own_file(
    fake_gemini: FakeGemini, out: Path
) -> None:
    # progress and cancellation: test_roots_batches_cancel.py (answers held, no real waits)
    async with connect(fake_gemini.url, out) as client:
        async with anyio.create_task_group() as group:  # three at once: three files
            for n in range(3):
                group.start_soon(client.call_tool, "generate_image", {"prompt": f"fox {n}"})
        assert len(list(out.glob("fox-*.jpg"))) == 3
        assert [e["status"] for e in manifest(out)] == ["ok"] * 3
