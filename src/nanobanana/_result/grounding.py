"""What Google Search grounding returned: queries, sources, and the search entry point.

`parse_grounding` reads a candidate's ``groundingMetadata`` (camelCase as on the wire, or
snake_case as `google-genai` dumps it) and never raises, whatever its shape. Google's terms
require showing the search suggestions (``searchEntryPoint.renderedContent``) with grounded
results: `Grounding.to_html` does, with the sources beneath.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Grounding", "GroundingSource", "parse_grounding"]

_HOST = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.I)


@dataclass(frozen=True)
class GroundingSource:
    """One web page (or, for image search, the page of one image) the answer drew on."""

    uri: str
    """A link to the page (the Gemini API gives redirect links)."""
    title: str | None = None
    domain: str | None = None
    """The site, from the chunk's own field, else from a title that is a host name."""
    image_uri: str | None = None
    """For image search: the image itself."""


@dataclass(frozen=True)
class Grounding:
    """What a grounded answer searched for and drew on.

    Attributes:
        queries: The web search queries run (empty ones dropped).
        sources: The web pages used, in the API's order.
        image_queries: The image search queries run (Nano Banana 2).
        image_sources: The pages of the images used.
        entry_point_html: Google's search-suggestions chip (HTML and CSS, about 5 KB) that
            its terms require an app to display with grounded results.
    """

    queries: tuple[str, ...] = ()
    sources: tuple[GroundingSource, ...] = ()
    image_queries: tuple[str, ...] = ()
    image_sources: tuple[GroundingSource, ...] = ()
    entry_point_html: str | None = None

    @property
    def search_queries(self) -> int:
        """Queries run, web and image: what grounding bills for."""
        return len(self.queries) + len(self.image_queries)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for sidecars and manifests (`from_json` reads it back)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Grounding | None:
        """Reads `to_json`'s dict back; ``None`` for anything else."""
        if not isinstance(data, Mapping):
            return None
        return cls(
            queries=_strings(data.get("queries")),
            sources=_saved_sources(data.get("sources")),
            image_queries=_strings(data.get("image_queries")),
            image_sources=_saved_sources(data.get("image_sources")),
            entry_point_html=_text(data.get("entry_point_html")),
        )

    def to_html(self) -> str:
        """The entry point chip, then the sources as links: every value escaped.

        The chip is Google's own HTML, shown as is inside a sandboxed ``iframe`` (no scripts),
        so it can neither break nor reach the page around it.
        """
        out = ['<div class="nanobanana-grounding">']
        if self.entry_point_html:
            out.append(
                '<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" '
                'style="border:0;width:100%;height:64px" title="Google Search suggestions" '
                f'srcdoc="{html.escape(self.entry_point_html, quote=True)}"></iframe>'
            )
        for label, sources in (("Sources", self.sources), ("Image sources", self.image_sources)):
            if sources:
                items = "".join(f"<li>{_link(s)}</li>" for s in sources)
                out.append(f"<small>{label}:</small><ol>{items}</ol>")
        if not (self.entry_point_html or self.sources or self.image_sources) and self.queries:
            out.append(f"<small>Searched: {html.escape('; '.join(self.queries))}</small>")
        out.append("</div>")
        return "".join(out)

    def _repr_html_(self) -> str:
        return self.to_html()


def _link(source: GroundingSource) -> str:
    text = html.escape(source.title or source.domain or source.uri)
    domain = source.domain if source.domain and source.domain != source.title else None
    tail = f" <small>({html.escape(domain)})</small>" if domain else ""
    if not source.uri.lower().startswith(("https://", "http://")):
        return text + tail  # never a javascript: or data: link
    href = html.escape(source.uri, quote=True)
    return f'<a href="{href}" target="_blank" rel="noopener noreferrer">{text}</a>{tail}'


def parse_grounding(candidate: Any) -> Grounding | None:
    """The grounding of one response candidate; ``None`` when it carries none.

    Accepts camelCase and snake_case keys; anything of an unexpected shape is skipped, so
    this never raises.
    """
    if not isinstance(candidate, Mapping):
        return None
    meta = _get(candidate, "groundingMetadata", "grounding_metadata")
    if not isinstance(meta, Mapping):
        return None
    web: list[GroundingSource] = []
    images: list[GroundingSource] = []
    chunks = _get(meta, "groundingChunks", "grounding_chunks")
    for chunk in chunks if isinstance(chunks, list) else ():
        if not isinstance(chunk, Mapping):
            continue
        page = _get(chunk, "web")
        image = _get(chunk, "image")
        if isinstance(page, Mapping) and (source := _source(page, "uri")):
            web.append(source)
        if isinstance(image, Mapping) and (source := _source(image, "sourceUri", "source_uri")):
            images.append(source)
    entry = _get(meta, "searchEntryPoint", "search_entry_point")
    rendered = _get(entry, "renderedContent", "rendered_content") if isinstance(entry, Mapping) \
        else None  # fmt: skip
    return Grounding(
        queries=_strings(_get(meta, "webSearchQueries", "web_search_queries")),
        sources=tuple(web),
        image_queries=_strings(_get(meta, "imageSearchQueries", "image_search_queries")),
        image_sources=tuple(images),
        entry_point_html=_text(rendered),
    )


def _get(mapping: Mapping[Any, Any], *keys: str) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(v for v in value if _text(v))


def _source(chunk: Mapping[Any, Any], *uri_keys: str) -> GroundingSource | None:
    uri = _text(_get(chunk, *uri_keys)) or _text(chunk.get("uri"))
    if uri is None:
        return None
    title = _text(chunk.get("title"))
    domain = _text(chunk.get("domain"))
    if domain is None and title is not None and _HOST.fullmatch(title.strip()):
        domain = title.strip().lower()
    image_uri = _text(_get(chunk, "imageUri", "image_uri"))
    return GroundingSource(uri=uri, title=title, domain=domain, image_uri=image_uri)


def _saved_sources(value: Any) -> tuple[GroundingSource, ...]:
    if not isinstance(value, list | tuple):
        return ()
    found = (_source(v, "uri") for v in value if isinstance(v, Mapping))
    return tuple(s for s in found if s is not None)


def __getattr__(name: str) -> object:
    if name == "Source":  # the 0.1 name, which read as an image source
        import warnings

        warnings.warn(
            "nanobanana.Source is deprecated: it is nanobanana.GroundingSource (a web or image "
            "source that grounded an answer)",
            DeprecationWarning,
            stacklevel=2,
        )
        return GroundingSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
