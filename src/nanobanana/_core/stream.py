"""A streamed answer: chunks gathered into one body for the one parser, and the stream's flow.

Each image arrives whole in one chunk; the last chunk is an empty text part with the finish
reason; usage changes between chunks and the last one counts (FACTS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._errors import NanoBananaError
from .._images.generated import GeneratedImage
from .._result.result import Result
from .._retry import RetryPolicy
from .flows import retrying
from .parse import finish, parse
from .steps import END, Emit, Flow, Next, Op
from .wire import Call

__all__ = ["StreamAccumulator", "StreamEvent", "stream_flow"]


@dataclass(frozen=True)
class StreamEvent:
    """One part of a streamed answer, as it arrives: thought text or image, or a final part."""

    thought: bool
    text: str | None = None
    image: GeneratedImage | None = None


class StreamAccumulator:
    """Collects stream chunks into one response body, for the one parser.

    Images arrive whole, one per chunk; usage changes between chunks and the last one counts.
    """

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.candidate: dict[str, Any] = {}
        self.top: dict[str, Any] = {}

    def feed(self, chunk: Any) -> list[StreamEvent]:
        """Adds one chunk (a google-genai response object); returns its parts as events."""
        body = chunk.model_dump(by_alias=True, exclude_none=True, mode="python")
        candidates = body.get("candidates") or []
        candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        new = (candidate.get("content") or {}).get("parts") or []
        self.parts.extend(new)
        for key, value in candidate.items():
            if key not in ("content", "index") and value is not None:
                self.candidate[key] = value
        for key in ("usageMetadata", "modelVersion", "responseId", "promptFeedback"):
            if body.get(key) is not None:
                self.top[key] = body[key]
        one = Result.from_body({"candidates": [{"content": {"parts": new}}]})
        events = [
            StreamEvent(True, None, t) if isinstance(t, GeneratedImage) else StreamEvent(True, t)
            for t in one.thoughts
        ]
        for part in one.parts:
            if isinstance(part, GeneratedImage):
                events.append(StreamEvent(False, image=part))
            else:
                events.append(StreamEvent(False, text=part.text))
        return events

    def has_final_image(self) -> bool:
        return any(
            isinstance(p, dict)
            and not p.get("thought")
            and (p.get("inlineData") or p.get("inline_data"))
            for p in self.parts
        )

    def result(self, call: Call, cut_by: NanoBananaError | None = None) -> Result:
        """The whole answer, parsed once; a stream cut after its images keeps them, noted."""
        body = {
            "candidates": [{"content": {"role": "model", "parts": self.parts}, **self.candidate}],
            **self.top,
        }
        note = (
            (f"the stream was cut before it finished ({cut_by}); all parts received kept",)
            if cut_by is not None
            else ()
        )
        return finish(parse(body, call, problems=note))


def stream_flow(call: Call, policy: RetryPolicy) -> Flow:
    """A streamed generation: emits `StreamEvent`s as they arrive; returns the `Result`.

    Retried like any call (the one retry loop) until a final image has arrived; a stream cut
    after that stops and keeps what came rather than paying twice.
    """

    def once() -> Flow:
        acc = StreamAccumulator()
        try:
            stream = yield Op("models.generate_content_stream", call.kwargs(raw_body=False))
            while (chunk := (yield Next(stream))) is not END:
                for event in acc.feed(chunk):
                    yield Emit(event)
        except NanoBananaError as error:
            if acc.has_final_image():
                return acc, error
            raise
        return acc, None

    acc, cut_by = yield from retrying(once, policy)
    return acc.result(call, cut_by=cut_by)
