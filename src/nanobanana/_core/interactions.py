"""The Interactions API wire: ``client.interactions.create`` arguments, and their answer parsed.

A prepared request becomes the create arguments; an ``Interaction`` goes into the one parse
path.

The same `GenerationRequest` and prepared references as `wire.build`; the same `Result`
through `parse`'s ``Result.from_body`` and `finish`: an interaction's steps are laid out as
the parts of a generateContent answer (thought summaries as thought parts, the
``model_output`` contents as final parts, usage as ``usageMetadata``), so there is one
parser. Flows here (a call, a background call polled to its end, a stream) yield steps like
every other flow: no I/O, no clock but the policy's.

What a live recording should confirm is marked "live:" (the API's own reference names the
fields; how a safety stop and a blocked prompt come back does not appear in it).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._errors import APITimeoutError, NanoBananaError
from .._request.request import GenerationRequest
from .._result.result import Result
from .._retry import RetryPolicy
from .flows import attempt
from .parse import finish
from .steps import END, Emit, Flow, Next, Op, Sleep
from .stream import StreamEvent
from .wire import image_config

if TYPE_CHECKING:
    from .._images.bytes import ImageBytes

__all__ = [
    "STORED_FOR",
    "InteractionCall",
    "as_generate_body",
    "build_interaction",
    "interaction_flow",
    "interaction_stream_flow",
]

Delivery = Literal["inline", "uri"]

#: How long the API keeps a stored interaction (Google's Interactions docs: 55 days on the
#: paid tier, 1 day on the free tier). live: confirm; a session file states it.
STORED_FOR = "55 days on the paid tier, 1 day on the free tier"

#: Background polling: the first wait, its growth and its cap (a 4K image takes 50-120 s).
POLL_START, POLL_GROWTH, POLL_MAX = 5.0, 1.5, 30.0
#: A background call still running after this long is given up (the interaction stays on
#: the server: its id is in the error).
BACKGROUND_TIMEOUT = 900.0
_RUNNING = frozenset({"in_progress", "queued"})
_RESOLUTION = {"low": "low", "medium": "medium", "high": "high", "ultra_high": "ultra_high"}


@dataclass(frozen=True)
class InteractionCall:
    """A request ready to send as ``interactions.create(**body)``."""

    request: GenerationRequest
    body: dict[str, Any]
    reference_sha256: tuple[str, ...] = ()

    @property
    def background(self) -> bool:
        return bool(self.body.get("background"))

    def kwargs(self, *, stream: bool = False) -> dict[str, Any]:
        return {**self.body, "stream": True} if stream else dict(self.body)


def user_input(request: GenerationRequest, images: Sequence[ImageBytes]) -> list[dict[str, Any]]:
    """This turn's contents: the prompt, then each reference inline with its resolution."""
    contents: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
    for image in images:
        item: dict[str, Any] = {
            "type": "image",
            "data": base64.b64encode(image.data).decode("ascii"),
            "mime_type": image.mime_type,
        }
        if image.media_resolution is not None:
            item["resolution"] = _RESOLUTION.get(image.media_resolution)
        contents.append(item)
    return contents


def build_interaction(
    request: GenerationRequest,
    images: Sequence[ImageBytes],
    *,
    previous_id: str | None = None,
    store: bool | None = None,
    background: bool = False,
    delivery: Delivery = "inline",
    webhook: str | None = None,
) -> InteractionCall:
    """The create arguments for a request whose references are prepared.

    Args:
        request: What to ask.
        images: Its references, read and fitted.
        previous_id: The interaction this turn continues (a session's last); only this turn
            is sent.
        store: Whether the server keeps it (its default, ``True``, when ``None``); a session
            needs it.
        background: Answer at once and run on the server; the flow polls.
        delivery: ``"uri"``: images come back as links to fetch, not in the body.
        webhook: With ``background``: a URL the API notifies when the call ends
            (``webhook_config.uris``); the flow still polls for the answer.

    Raises:
        InvalidRequestError: A Vertex-only option (``output_format``, ``quality``).
    """
    image_config(request)  # the one check of Vertex-only options
    image: dict[str, Any] = {"type": "image"}
    if request.aspect_ratio is not None:
        image["aspect_ratio"] = request.aspect_ratio.value
    if request.size is not None:
        image["image_size"] = request.size.value
    if delivery != "inline":
        image["delivery"] = delivery
    body: dict[str, Any] = {
        "model": request.model,
        "input": user_input(request, images),
        "response_format": [image] if request.image_only else [{"type": "text"}, image],
    }
    config: dict[str, Any] = {}
    if request.include_thoughts:
        config["thinking_summaries"] = "auto"
    if request.thinking_level:
        config["thinking_level"] = request.thinking_level.lower()
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.seed is not None:
        config["seed"] = request.seed
    if config:
        body["generation_config"] = config
    if request.search is not None:
        kinds = {"web": "web_search", "image": "image_search"}
        body["tools"] = [
            {"type": "google_search", "search_types": [kinds[m] for m in request.search.modes]}
        ]
    if request.system_instruction:
        body["system_instruction"] = request.system_instruction
    if previous_id:
        body["previous_interaction_id"] = previous_id
    if store is not None:
        body["store"] = store
    if background:
        body["background"] = True
        if webhook:
            body["webhook_config"] = {"uris": [webhook]}
    digests = tuple(hashlib.sha256(i.data).hexdigest() for i in images)
    return InteractionCall(request, body, digests)


# -- reading an interaction ---------------------------------------------------------------


def _dump(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    dumped = obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped if isinstance(dumped, dict) else {}


def _part(content: Any, thought: bool) -> dict[str, Any] | None:
    if not isinstance(content, dict):
        return None
    part: dict[str, Any] | None = None
    if content.get("type") == "text" and isinstance(content.get("text"), str):
        part = {"text": content["text"]}
    elif content.get("type") == "image" and content.get("data") is not None:
        part = {"inlineData": {"mimeType": content.get("mime_type"), "data": content["data"]}}
    elif content.get("type") == "image" and content.get("uri"):
        part = {"fileData": {"fileUri": content["uri"], "mimeType": content.get("mime_type")}}
    if part is not None and thought:
        part["thought"] = True
    return part


def _tokens(items: Any) -> list[dict[str, Any]]:
    return [
        {"modality": str(i.get("modality", "")).upper(), "tokenCount": i.get("tokens", 0)}
        for i in items or []
        if isinstance(i, dict)
    ]


def as_generate_body(interaction: Any) -> dict[str, Any]:
    """An ``Interaction`` (object or dict) laid out as a generateContent answer.

    Thought steps give thought parts and their signature (kept on the last final part, so a
    saved session holds it); ``model_output`` contents give the final parts; search steps
    give ``groundingMetadata``; ``usage`` gives ``usageMetadata``; the ``errors`` give the
    finish reason and message, or a prompt's block reason when nothing was output.
    """
    body = _dump(interaction)
    parts: list[dict[str, Any]] = []
    signature: str | None = None
    queries: list[str] = []
    suggestions: str | None = None
    output = False
    for step in body.get("steps") or []:
        kind = step.get("type") if isinstance(step, dict) else None
        if kind == "thought":
            parts += [p for c in step.get("summary") or [] if (p := _part(c, True))]
            signature = step.get("signature") or signature
        elif kind == "model_output":
            output = True
            parts += [p for c in step.get("content") or [] if (p := _part(c, False))]
        elif kind == "google_search_call":
            queries += [str(q) for q in (step.get("arguments") or {}).get("queries") or []]
        elif kind == "google_search_result":
            for found in step.get("result") or []:
                suggestions = (found or {}).get("search_suggestions") or suggestions
    finals = [p for p in parts if not p.get("thought")]
    if signature and finals:
        finals[-1]["thoughtSignature"] = signature
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    status = body.get("status")
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    answer: dict[str, Any] = {"modelVersion": body.get("model"), "responseId": body.get("id")}
    if body.get("updated") or body.get("created"):  # when any image links were handed out
        answer["createTime"] = body.get("updated") or body.get("created")
    if errors and status == "failed" and not output:
        answer["promptFeedback"] = {"blockReason": errors[0].get("code") or "OTHER"}
    else:
        if errors:
            candidate["finishReason"] = errors[0].get("code") or "OTHER"
            if errors[0].get("message"):
                candidate["finishMessage"] = errors[0]["message"]
        else:
            candidate["finishReason"] = {"completed": "STOP", "incomplete": "MAX_TOKENS"}.get(
                str(status), "OTHER"
            )
        if queries or suggestions:
            grounding: dict[str, Any] = {"webSearchQueries": queries}
            if suggestions:
                grounding["searchEntryPoint"] = {"renderedContent": suggestions}
            candidate["groundingMetadata"] = grounding
        answer["candidates"] = [candidate]
    usage = body.get("usage") or {}
    answer["usageMetadata"] = {
        "promptTokenCount": usage.get("total_input_tokens", 0),
        "candidatesTokenCount": usage.get("total_output_tokens", 0),
        "thoughtsTokenCount": usage.get("total_thought_tokens", 0),
        "totalTokenCount": usage.get("total_tokens", 0),
        "promptTokensDetails": _tokens(usage.get("input_tokens_by_modality")),
        "candidatesTokensDetails": _tokens(usage.get("output_tokens_by_modality")),
    }
    return answer


def parse_interaction(
    interaction: Any, call: InteractionCall, problems: tuple[str, ...] = ()
) -> Result:
    """The `Result` of an interaction: the one parser, on its generateContent layout."""
    return Result.from_body(
        as_generate_body(interaction), request=call.request,
        reference_sha256=call.reference_sha256, problems=problems,
    )  # fmt: skip


# -- flows ----------------------------------------------------------------------------------


def interaction_flow(
    call: InteractionCall,
    policy: RetryPolicy,
    *,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> Flow:
    """One generation on the Interactions API, under the retry policy, with a final image.

    A background call is created (not retried once sent: the server may have started it),
    then polled with ``interactions.get`` under the same policy, waiting 5 s, then 1.5
    times longer each time up to 30 s, until it ends.

    ``on_retry(error, wait)`` hears of each retry, of the create and of each poll (a run's
    rate limiter slows down on 429).

    Raises:
        APITimeoutError: A background call still running after `BACKGROUND_TIMEOUT` s.
    """
    op = Op("interactions.create", call.kwargs(), idempotent=not call.background)
    interaction = yield from attempt(op, policy, on_retry=on_retry)
    if call.background:
        interaction = yield from _poll(interaction, policy, on_retry)
    return finish(parse_interaction(interaction, call))


def _poll(
    interaction: Any,
    policy: RetryPolicy,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> Flow:
    body = _dump(interaction)
    started, wait = policy.clock(), POLL_START
    while body.get("status") in _RUNNING:
        if policy.clock() - started + wait > BACKGROUND_TIMEOUT:
            raise APITimeoutError(
                f"background interaction {body.get('id')} still {body.get('status')} after "
                f"{BACKGROUND_TIMEOUT:.0f} s; it is still on the server: fetch it later with "
                f"client.interactions.get({body.get('id')!r})"
            )
        yield Sleep(wait)
        wait = min(POLL_MAX, wait * POLL_GROWTH)
        got = yield from attempt(
            Op("interactions.get", {"id": body.get("id")}), policy, on_retry=on_retry
        )
        body = _dump(got)
    return body


class _Steps:
    """Steps of a streamed interaction, put together from its events."""

    def __init__(self) -> None:
        self.steps: dict[int, dict[str, Any]] = {}
        self.head: dict[str, Any] = {}

    def feed(self, event: Any) -> list[StreamEvent]:
        e = _dump(event)
        kind = e.get("event_type")
        if kind in ("interaction.created", "interaction.completed"):
            head = e.get("interaction") or {}
            self.head.update({k: v for k, v in head.items() if k != "steps"})
            return []
        if kind == "error":
            from .._errors import api_error

            error = e.get("error") or {}
            raise api_error(
                int(error.get("code") or 500) if str(error.get("code", "")).isdigit() else 500,
                error.get("status"), str(error.get("message") or "stream error"), e,
            )  # fmt: skip
        index = int(e.get("index") or 0)
        if kind == "step.start":
            step = dict(e.get("step") or {})
            self.steps[index] = step
            return []
        if kind != "step.delta":
            return []
        step = self.steps.setdefault(index, {"type": "model_output"})
        delta = e.get("delta") or {}
        if delta.get("type") == "thought_signature":
            step["signature"] = delta.get("signature")
            return []
        if delta.get("type") == "thought_summary":
            content = delta.get("content") or {}
            step.setdefault("summary", []).append(content)
            return _events(content, thought=True)
        step.setdefault("content", []).append(delta)
        return _events(delta, thought=step.get("type") == "thought")

    def has_final_image(self) -> bool:
        return any(
            c.get("type") == "image"
            for s in self.steps.values()
            if s.get("type") == "model_output"
            for c in s.get("content") or []
        )

    def interaction(self) -> dict[str, Any]:
        return {**self.head, "steps": [self.steps[i] for i in sorted(self.steps)]}


def _events(content: dict[str, Any], *, thought: bool) -> list[StreamEvent]:
    part = _part(content, thought)
    if part is None or "fileData" in part:
        return []
    one = Result.from_body({"candidates": [{"content": {"parts": [part]}}]})
    if thought:
        return [StreamEvent(True, None, t) if not isinstance(t, str) else StreamEvent(True, t)
                for t in one.thoughts]  # fmt: skip
    if one.images:
        return [StreamEvent(False, image=one.images[0])]
    return [StreamEvent(False, text=one.text)] if one.text else []


def interaction_stream_flow(call: InteractionCall, policy: RetryPolicy) -> Flow:
    """A streamed interaction: emits `StreamEvent`s as steps arrive; returns the `Result`.

    Retried like `stream_flow` until a final image has arrived; a stream cut after that
    keeps what came rather than paying twice.
    """
    started = policy.clock()
    for n in itertools.count(1):
        acc = _Steps()
        try:
            stream = yield Op("interactions.create", call.kwargs(stream=True))
            while (event := (yield Next(stream))) is not END:
                for out in acc.feed(event):
                    yield Emit(out)
        except NanoBananaError as error:
            if acc.has_final_image():
                note = f"the stream was cut before it finished ({error}); all parts received kept"
                return finish(parse_interaction(acc.interaction(), call, (note,)))
            wait = policy.next_delay(error, n, policy.clock() - started)
            if wait is None:
                raise
            policy.log_retry(error, n, wait)
            yield Sleep(wait)
            continue
        return finish(parse_interaction(acc.interaction(), call))
    raise AssertionError("unreachable")  # pragma: no cover


# -- choosing the wire ----------------------------------------------------------------------

ApiName = Literal["generate_content", "interactions"]
APIS: tuple[str, ...] = ("generate_content", "interactions")


@dataclass(frozen=True)
class Api:
    """Which API a client's calls go through, and how (`NanoBanana(api=...)`)."""

    name: ApiName = "generate_content"
    background: bool = False
    """Interactions only: run on the server and poll (long 4K work)."""
    delivery: Delivery = "inline"
    """Interactions only: ``"uri"`` returns images as links, fetched when saved."""
    webhook: str | None = None
    """Background calls only: a URL the API notifies when each call ends (polling stays)."""

    def __post_init__(self) -> None:
        from .._errors import InvalidRequestError

        if self.webhook is not None:
            _check_webhook(self.webhook, self.background and self.name == "interactions")

        if self.name not in APIS:
            raise InvalidRequestError(
                f"api must be one of {', '.join(map(repr, APIS))}, got {self.name!r}"
            )
        if self.delivery not in ("inline", "uri"):
            raise InvalidRequestError(f"delivery must be 'inline' or 'uri', got {self.delivery!r}")
        if self.name != "interactions" and (self.background or self.delivery != "inline"):
            raise InvalidRequestError(
                "background=True and delivery='uri' need the Interactions API: pass "
                "api='interactions' as well"
            )

    @property
    def interactions(self) -> bool:
        return self.name == "interactions"


def _check_webhook(url: str, background: bool) -> None:
    from urllib.parse import urlsplit

    from .._errors import InvalidRequestError

    if not background:
        raise InvalidRequestError(
            "webhook= is for background calls: pass api='interactions' and background=True as well"
        )
    parts = urlsplit(url) if isinstance(url, str) else None
    local = parts is not None and parts.hostname in ("localhost", "127.0.0.1", "::1")
    if (
        parts is None
        or not parts.netloc
        or not (parts.scheme == "https" or (parts.scheme == "http" and local))
    ):
        raise InvalidRequestError(
            f"webhook must be an https:// URL the API can reach (http:// only for localhost), "
            f"got {url!r}"
        )


def generation(
    api: Api,
    request: GenerationRequest,
    images: Sequence[ImageBytes],
    policy: RetryPolicy,
    *,
    vertex: bool = False,
    stream: bool = False,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> Flow:
    """The flow of one generation (or stream) on the client's API, built by its one builder.

    ``on_retry`` hears of each retry of a generation (not a stream): a run's rate limiter.
    """
    if api.interactions:
        # A stream needs the answer inline: it is read as it arrives, not fetched after.
        call = build_interaction(
            request, images, background=api.background and not stream,
            delivery="inline" if stream else api.delivery, webhook=api.webhook,
        )  # fmt: skip
        if stream:
            return interaction_stream_flow(call, policy)
        return interaction_flow(call, policy, on_retry=on_retry)
    from .flows import generate_flow
    from .stream import stream_flow
    from .wire import build

    plain = build(request, images, vertex=vertex)
    if stream:
        return stream_flow(plain, policy)
    return generate_flow(plain, policy, on_retry=on_retry)
