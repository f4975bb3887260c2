"""The MCP server: the library's tools, prompts and images, for agents.

Built on the official MCP Python SDK (``mcp`` 2.x, `MCPServer`). Each tool is a thin shell
over `Service` (the library's client, runs, sessions and manifest): it checks the agent's
arguments, calls the library, and shapes the answer for an agent's context (saved paths and
resource links, a small preview, text, usage, cost, grounding sources). Every typed
nanobanana error becomes a tool error carrying its message; nothing an agent sends can stop
the server.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, ParamSpec, TypeVar

from mcp.server.mcpserver import Context, ListRoots, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.prompts.base import Prompt as MCPPrompt
from mcp.server.mcpserver.prompts.base import PromptArgument, UserMessage
from mcp_types import (
    CallToolResult,
    ContentBlock,
    ImageContent,
    ListRootsResult,
    ResourceLink,
    TextContent,
)
from pydantic import Field, ValidationError

from .. import __version__
from .._errors import NanoBananaError
from .._models.registry import DEFAULT_MODEL, MODELS, RETIRED_MODELS
from .._request.options import RequestOptions
from .preview import preview
from .schemas import (
    IMAGE_URI,
    BatchOutput,
    CostQuote,
    ImageOutput,
    ModelOutput,
    ModelsOutput,
    SavedImage,
    SessionInfo,
    SessionsOutput,
    SourceOut,
    ToolFailure,
)

if TYPE_CHECKING:  # the library loads after the server has answered initialize and tools/list
    from .service import Outcome, Service

__all__ = ["INSTRUCTIONS", "build_server"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

INSTRUCTIONS = """\
Nano Banana image generation and editing (Google's Gemini image models), through nanobanana.
Every image is saved full size in the server's output folder and returned as a resource link
(read it for the full image) with a small preview, its path, the model's text, usage and cost.
Sessions (session_start, session_send) keep an edit going across turns and server restarts.
References are read only from folders the user allowed. estimate_cost quotes before paying;
a call refused for cost says what remains of the budget."""

_IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

Size = Literal["512", "1K", "2K", "4K"]

PromptArg = Annotated[str, Field(description="What to draw or change, in full sentences.")]
RefsArg = Annotated[
    list[str],
    Field(
        description="Reference images: file paths in folders the user allowed, or "
        "nanobanana://images/... URIs of images this server made. Up to 14.",
    ),
]
RatioArg = Annotated[
    str | None,
    Field(
        description="Aspect ratio: 1:1 2:3 3:2 3:4 4:3 4:5 5:4 9:16 16:9 21:9 (and more on "
        "some models; list_models says which)."
    ),
]
SizeArg = Annotated[
    Size | None, Field(description="Output size: 1K (default), 2K or 4K; 512 on Nano Banana 2.")
]
ModelArg = Annotated[
    str | None, Field(description=f"Model id (default {DEFAULT_MODEL}); see list_models.")
]
SearchArg = Annotated[bool, Field(description="Ground the image in Google Search results.")]
ThinkingArg = Annotated[
    Literal["minimal", "high"] | None,
    Field(description="Thinking level, on models that take one (Nano Banana 2)."),
]
SeedArg = Annotated[int | None, Field(description="A seed, for more repeatable results.")]
CountArg = Annotated[
    int, Field(ge=1, le=10, description="Independent images of this prompt (one call each).")
]
CostArg = Annotated[
    float | None,
    Field(ge=0, description="Refuse the call if it may cost more than this many USD."),
]


def _errors(fn: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
    """Every nanobanana error and bad argument becomes a tool error with its message."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await fn(*args, **kwargs)
        except ToolError:
            raise
        except ToolFailure as exc:
            raise ToolError(str(exc)) from exc
        except NanoBananaError as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolError(f"invalid arguments: {problems}") from exc

    return wrapper


def _options(**given: Any) -> RequestOptions:
    """The options an agent set (``None`` and ``False`` leave the library's defaults)."""
    chosen: Any = {k: v for k, v in given.items() if v is not None and v is not False}
    options: RequestOptions = chosen
    return options


def _reporter(ctx: Context) -> Callable[[float, float | None, str], Awaitable[None]]:
    async def report(progress: float, total: float | None, message: str) -> None:
        try:
            await ctx.report_progress(progress, total, message)
        except Exception:  # a client gone away must not fail the call (its answer is saved)
            return

    return report


def _ask_roots(ctx: Context, named: list[str]) -> ListRoots | ListRootsResult:
    """Asks for the client's MCP roots when a reference is a path and the client has roots.

    Through the SDK's resolver, so the question takes the form the negotiated protocol
    wants (an input request in the answer from 2026-07-28, a ``roots/list`` request before).
    """
    capabilities = ctx.client_capabilities
    has_roots = capabilities is not None and capabilities.roots is not None
    if has_roots and any(not name.startswith(IMAGE_URI) for name in named):
        return ListRoots()
    return ListRootsResult(roots=[])


def _roots_for_references(ctx: Context, references: list[str]) -> ListRoots | ListRootsResult:
    return _ask_roots(ctx, references)


def _roots_for_edit(ctx: Context, image: str, references: list[str]) -> ListRoots | ListRootsResult:
    return _ask_roots(ctx, [image, *references])


RootsOfReferences = Annotated[ListRootsResult, Resolve(_roots_for_references)]
RootsOfEdit = Annotated[ListRootsResult, Resolve(_roots_for_edit)]


def _folders(roots: ListRootsResult) -> list[Path]:
    """The local folders among the client's roots."""
    from urllib.parse import unquote, urlparse

    return [
        Path(unquote(urlparse(str(root.uri)).path)).resolve()
        for root in roots.roots
        if str(root.uri).startswith("file://")
    ]


def _image_output(service: Service, outcomes: list[Outcome], model: str) -> ImageOutput:
    images, texts, reasons, failures = [], [], [], []
    usage: dict[str, int] = {}
    queries: list[str] = []
    sources: list[SourceOut] = []
    chip = None
    for outcome in outcomes:
        entry = outcome.entry
        if entry.get("status") != "ok":
            failures.append(f"{entry['error']['type']}: {entry['error']['message']}")
            continue
        made = outcome.result.images if outcome.result else ()
        for n, name in enumerate(entry["images"]):
            path = service.out_dir / name
            found = made[n] if n < len(made) else None
            images.append(
                SavedImage(
                    path=str(path),
                    uri=IMAGE_URI + name,
                    bytes=path.stat().st_size,
                    mime_type=found.mime_type if found else "image/jpeg",
                    width=found.width if found else None,
                    height=found.height if found else None,
                )
            )
        for name, value in (entry.get("usage") or {}).items():
            if isinstance(value, int):
                usage[name] = usage.get(name, 0) + value
        if entry.get("finish_reason"):
            reasons.append(str(entry["finish_reason"]))
        result = outcome.result
        if result is not None:
            if result.text:
                texts.append(result.text)
            if result.grounding is not None:
                queries += list(result.grounding.queries)
                sources += [SourceOut(uri=s.uri, title=s.title) for s in result.grounding.sources]
                chip = chip or result.grounding.entry_point_html
    return ImageOutput(
        images=images,
        text="\n".join(texts),
        model=model,
        usage=usage,
        finish_reasons=reasons,
        cost_usd=round(sum(float(o.entry.get("cost") or 0.0) for o in outcomes), 6),
        search_queries=queries,
        sources=sources,
        search_entry_point_html=chip,
        failures=failures,
        budget_remaining_usd=service.remaining(),
    )


async def _tool_result(output: ImageOutput) -> CallToolResult:
    """A summary, then per image a resource link and a small preview; the output structured."""
    lines = [f"{len(output.images)} image(s) saved, ${output.cost_usd:.4f}"]
    lines += [f"- {i.path} ({i.width}x{i.height}, {i.bytes} bytes) {i.uri}" for i in output.images]
    if output.text:
        lines.append(f"Model text: {output.text}")
    if output.sources:
        lines.append(
            "Sources: " + "; ".join(f"{s.title or s.uri} <{s.uri}>" for s in output.sources)
        )
    if output.failures:
        lines.append("Failed: " + "; ".join(output.failures))
    content: list[ContentBlock] = [TextContent(type="text", text="\n".join(lines))]
    for image in output.images:
        content.append(
            ResourceLink(
                type="resource_link",
                uri=image.uri,
                name=Path(image.path).name,
                mime_type=image.mime_type,
                size=image.bytes,
                description=f"full image, {image.width}x{image.height}",
            )
        )
        small = await asyncio.to_thread(preview, Path(image.path))
        content.append(
            ImageContent(
                type="image", data=base64.b64encode(small).decode(), mime_type="image/jpeg"
            )
        )
    return CallToolResult(content=content, structured_content=output.model_dump(mode="json"))


class _Server(MCPServer):
    """`MCPServer` that starts loading the library once it has listed its tools."""

    warm: Callable[[], object] | None = None

    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        if self.warm is not None:
            self.warm()
        return tools


def build_server(  # noqa: C901 (one closure per tool)
    service: Service | Callable[[], Awaitable[Service]],
    *,
    warm: Callable[[], object] | None = None,
) -> MCPServer:
    """The MCP server over ``service``: tools, prompts and the saved images as resources.

    ``service`` may be a function that gives it (awaited by each call that needs it): then
    the server answers ``initialize`` and ``tools/list`` before the library (google-genai,
    Pillow, the client, the emulator) is loaded, and ``warm`` (if given) is called after the
    first ``tools/list`` to start loading it in the background.
    """
    if callable(service):
        get = service
    else:
        ready = service

        async def get() -> Service:
            return ready

    server = _Server(
        "nanobanana",
        title="Nano Banana (nanobanana)",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    server.warm = warm

    @server.tool()
    @_errors
    async def generate_image(
        prompt: PromptArg,
        ctx: Context,
        roots: RootsOfReferences,
        references: RefsArg = [],  # noqa: B006 (pydantic copies defaults)
        aspect_ratio: RatioArg = None,
        size: SizeArg = None,
        model: ModelArg = None,
        search: SearchArg = False,
        thinking_level: ThinkingArg = None,
        seed: SeedArg = None,
        count: CountArg = 1,
        max_cost: CostArg = None,
    ) -> Annotated[CallToolResult, ImageOutput]:
        """Generate images from a prompt, optionally with reference images.

        Each image is saved full size in the output folder (never over a file) and returned
        as a resource link with a small preview. Costs money: see estimate_cost first for
        large sizes or counts. A 4K image takes 1-2 minutes (progress is reported).
        """
        service = await get()
        refs = [service.reference(r, _folders(roots)) for r in references]
        options = _options(
            aspect_ratio=aspect_ratio,
            size=size,
            model=model,
            search=search,
            thinking_level=thinking_level,
            seed=seed,
        )
        request = service.request(prompt, refs, options)
        call = await service.generate(request, count, max_cost, _reporter(ctx))
        return await _tool_result(_image_output(service, call.outcomes, request.model))

    @server.tool()
    @_errors
    async def edit_image(
        image: Annotated[
            str, Field(description="The image to edit: a path or nanobanana://images/ URI.")
        ],
        instruction: Annotated[str, Field(description="What to change, in sentences.")],
        ctx: Context,
        roots: RootsOfEdit,
        references: RefsArg = [],  # noqa: B006
        aspect_ratio: RatioArg = None,
        size: SizeArg = None,
        model: ModelArg = None,
        max_cost: CostArg = None,
    ) -> Annotated[CallToolResult, ImageOutput]:
        """Edit one image by instruction; the result is saved as a new file.

        For several edits in a row that build on each other, use session_start and
        session_send instead (they keep the model's thought signatures across turns).
        """
        service = await get()
        refs = [service.reference(r, _folders(roots)) for r in [image, *references]]
        options = _options(aspect_ratio=aspect_ratio, size=size, model=model)
        request = service.request(instruction, refs, options)
        call = await service.generate(request, 1, max_cost, _reporter(ctx))
        return await _tool_result(_image_output(service, call.outcomes, request.model))

    @server.tool()
    @_errors
    async def session_start(
        model: ModelArg = None, aspect_ratio: RatioArg = None, size: SizeArg = None
    ) -> SessionInfo:
        """Start a multi-turn edit session; send turns with session_send.

        The session is saved after every turn, so it survives a restart of the server.
        Nothing is paid until the first turn.
        """
        service = await get()
        options = _options(model=model, aspect_ratio=aspect_ratio, size=size)
        session_id, _ = service.new_session(options)
        return _session_info(service, session_id)

    @server.tool()
    @_errors
    async def session_send(
        session_id: Annotated[str, Field(description="The id session_start returned.")],
        instruction: Annotated[str, Field(description="The next change, or the first image.")],
        ctx: Context,
        roots: RootsOfReferences,
        references: RefsArg = [],  # noqa: B006
        aspect_ratio: RatioArg = None,
        size: SizeArg = None,
        max_cost: CostArg = None,
    ) -> Annotated[CallToolResult, ImageOutput]:
        """Send the next turn of a session: it continues from the session's last image.

        A turn that fails leaves the session as it was.
        """
        service = await get()
        refs = [service.reference(r, _folders(roots)) for r in references]
        options = _options(aspect_ratio=aspect_ratio, size=size)
        outcome = await service.send(
            session_id, instruction, refs, options, max_cost, _reporter(ctx)
        )
        session = service.session(session_id)
        output = _image_output(service, [outcome], session.model)
        output.session_id, output.turns = session_id, len(session.turns)
        return await _tool_result(output)

    @server.tool()
    @_errors
    async def session_undo(
        session_id: Annotated[str, Field(description="The id session_start returned.")],
    ) -> SessionInfo:
        """Drop a session's last turn: the next turn continues from the one before.

        The dropped turn's image stays on disk.
        """
        service = await get()
        session = service.session(session_id)
        session.undo()
        session.save(service.session_file(session_id))
        return _session_info(service, session_id)

    @server.tool()
    @_errors
    async def session_list() -> SessionsOutput:
        """The saved sessions (of this and earlier runs of the server), to continue one."""
        service = await get()
        return SessionsOutput(
            sessions=[_session_info(service, sid) for sid, _ in service.list_sessions()]
        )

    @server.tool()
    @_errors
    async def batch_submit(
        prompts: Annotated[
            list[str], Field(min_length=1, max_length=1000, description="One prompt per image.")
        ],
        aspect_ratio: RatioArg = None,
        size: SizeArg = None,
        model: ModelArg = None,
        max_cost: CostArg = None,
    ) -> BatchOutput:
        """Submit prompts to the Batch API: half price, results within 24 hours.

        Poll with batch_status; fetch with batch_results (which saves the images).
        """
        service = await get()
        options = _options(aspect_ratio=aspect_ratio, size=size, model=model)
        requests = [service.request(p, (), options) for p in prompts]
        costs = [r.estimated_cost(batch=True) for r in requests]
        total = None if None in costs else sum(c or 0.0 for c in costs)
        estimate = service.reserve(total, max_cost, f"a batch of {len(requests)}")
        try:
            job = await service.client.batch.submit(requests, out_dir=service.out_dir)
        except BaseException:
            service.settle(estimate, 0.0)
            raise
        service.settle(estimate, estimate)  # counted as spent: the job runs unattended
        service.batches[job.name] = job
        return BatchOutput(name=job.name, status=job.status, requests=len(requests), cost_usd=total)

    @server.tool()
    @_errors
    async def batch_status(
        name: Annotated[str, Field(description="The name batch_submit returned.")],
    ) -> BatchOutput:
        """The state of a Batch API job (JOB_STATE_PENDING, _RUNNING, _SUCCEEDED, ...)."""
        service = await get()
        job = await service.job(name)
        status = await job.refresh()
        return BatchOutput(name=name, status=status, requests=len(job.requests) or None)

    @server.tool()
    @_errors
    async def batch_results(
        name: Annotated[str, Field(description="The name batch_submit returned.")],
    ) -> BatchOutput:
        """Save a finished Batch API job's images in the output folder and list them."""
        service = await get()
        job = await service.job(name)
        status = await job.refresh()
        if status not in (
            "JOB_STATE_SUCCEEDED",
            "JOB_STATE_FAILED",
            "JOB_STATE_CANCELLED",
            "JOB_STATE_EXPIRED",
        ):
            raise ToolError(f"batch {name} is {status}: not finished yet; ask batch_status later")
        ids, cost = set(), 0.0
        async for result in job.results():
            ids.add(result.response_id)
            cost += result.cost or 0.0
        from .._runs.manifest import read_entries

        entries = await asyncio.to_thread(read_entries, service.out_dir)
        images = [
            SavedImage(
                path=str(service.out_dir / n),
                uri=IMAGE_URI + n,
                mime_type="image/png" if n.endswith(".png") else "image/jpeg",
                bytes=(service.out_dir / n).stat().st_size,
            )
            for e in entries.values()
            if e.get("status") == "ok" and e.get("response_id") in ids
            for n in e.get("images", [])
        ]
        errors = [f"{e['error']['type']}: {e['error']['message']}" for e in job.errors]
        return BatchOutput(
            name=name, status=status, images=images, cost_usd=round(cost, 6), errors=errors
        )

    @server.tool()
    @_errors
    async def list_models() -> ModelsOutput:
        """The image models: what this key can use (models.list) and what each accepts and costs.

        A retired model's replacement is named; unknown models still work with basic checks.
        """
        service = await get()
        listed = await service.client.models()
        seen = {m.id: m for m in listed if m.info is not None or m.retired}
        out = []
        for model_id in dict.fromkeys([*seen, *MODELS, *RETIRED_MODELS]):
            summary = seen.get(model_id)
            info = MODELS.get(model_id)
            replacement = RETIRED_MODELS.get(model_id)
            out.append(
                ModelOutput(
                    id=model_id,
                    name=info.name if info else None,
                    status="retired" if replacement else ("available" if info else "unknown"),
                    replacement=replacement,
                    aspect_ratios=list(info.aspect_ratios) if info else [],
                    sizes=list(info.image_sizes) if info else [],
                    thinking_levels=list(info.thinking_levels) if info else [],
                    search=list(info.search) if info else [],
                    max_references=info.references.total if info else None,
                    usd_per_1k_image=summary.price_per_image if summary else None,
                    listed_by_api=summary is not None,
                )
            )
        return ModelsOutput(default_model=service.client.model, models=out)

    @server.tool()
    @_errors
    async def estimate_cost(
        prompt: PromptArg,
        ctx: Context,
        roots: RootsOfReferences,
        references: RefsArg = [],  # noqa: B006
        aspect_ratio: RatioArg = None,
        size: SizeArg = None,
        model: ModelArg = None,
        search: SearchArg = False,
        count: CountArg = 1,
    ) -> CostQuote:
        """Quote a generate_image call before paying: a conservative upper estimate in USD.

        Takes the same arguments as generate_image. Nothing is sent to the model.
        """
        service = await get()
        refs = [service.reference(r, _folders(roots)) for r in references]
        request = service.request(
            prompt, refs, _options(aspect_ratio=aspect_ratio, size=size, model=model, search=search)
        )
        one, batch = request.estimated_cost(), request.estimated_cost(batch=True)
        return CostQuote(
            model=request.model,
            count=count,
            usd_per_call=one,
            usd_total=None if one is None else round(one * count, 6),
            usd_total_batch=None if batch is None else round(batch * count, 6),
            budget_remaining_usd=service.remaining(),
            note="An upper estimate: thinking, input images and the prompt at list prices; "
            "the cost billed (in every result) is usually lower."
            if one is not None
            else "No price is known for this model.",
        )

    for ext, mime in _IMAGE_TYPES.items():
        server.resource(
            f"{IMAGE_URI}{{stem}}.{ext}",
            name=f"image-{ext}",
            mime_type=mime,
            description="A full-size image this server saved (the uri a tool returned).",
        )(_reader(get, ext))

    from .prompts import add_prompts

    add_prompts(server, MCPPrompt, PromptArgument, UserMessage)
    return server


def _reader(get: Callable[[], Awaitable[Service]], ext: str) -> Callable[[str], Awaitable[bytes]]:
    async def read(stem: str) -> bytes:
        service = await get()
        try:
            return service.image_path(f"{stem}.{ext}").read_bytes()
        except NanoBananaError as exc:
            raise ResourceError(str(exc)) from exc

    return read


def _text(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _session_info(service: Service, session_id: str) -> SessionInfo:
    session = service.session(session_id)
    return SessionInfo(
        session_id=session_id,
        model=session.model,
        aspect_ratio=_text(session.aspect_ratio),
        size=_text(session.size),
        turns=len(session.turns),
        last_prompt=session.turns[-1].prompt if session.turns else None,
        file=str(service.session_file(session_id)),
    )
