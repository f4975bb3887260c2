"""A static, self-contained HTML contact sheet of a run, from its manifest.

Each request is a card: its images as embedded thumbnails (several views side by side, as a
character sheet's), each linking to the full file; its prompt, ratio, size and cost; the
grounding sources it used; or its error. One file, no network: it can be mailed or attached
to a ticket. Never the API key: the manifest holds none.

The manifest is untrusted input (anyone can edit it; a proxy can send odd MIME types): every
value is escaped, image paths must stay inside the run folder, and an image that is missing
or unreadable becomes a broken-image card, never a crash.
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .._errors import InvalidRequestError
from .._images.generated import atomic_write as _atomic_write
from . import manifest as _manifest
from .lock import FolderLock
from .records import read_any
from .store import ObjectOut
from .store import output as _output

__all__ = ["read_entries", "write_gallery"]

THUMBNAIL = 480

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;background:#faf8f2;color:#222}
h1{font-size:20px;margin:0 0 4px}.meta{color:#666;margin-bottom:20px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:16px;
 align-items:start}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 4px #0002;overflow:hidden;min-width:0}
@media (min-width:640px){.card.multi{grid-column:span 2}}
.views{display:flex;gap:2px;background:#eee}.views a{flex:1;min-width:0}
.card img{width:100%;max-height:420px;object-fit:contain;display:block;background:#eee}
.broken{display:flex;align-items:center;justify-content:center;min-height:120px;flex:1;
 background:repeating-linear-gradient(45deg,#eee,#eee 8px,#e4e4e4 8px,#e4e4e4 16px);
 color:#900;font-size:12px;padding:8px;text-align:center;overflow-wrap:anywhere}
.card .body{padding:10px 12px}.prompt{margin:0 0 6px;overflow-wrap:anywhere}
.facts{color:#666;font-size:12px}.failed{border:2px solid #d33}
.error{color:#b00;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
.sources{font-size:12px;margin:6px 0 0;padding-left:18px;overflow-wrap:anywhere}
.sources .domain{color:#666}.queries{color:#666;font-size:12px;margin:6px 0 0}
"""

# Counts the images that loaded, for readers and for tests in a real browser.
_SCRIPT = """
window.addEventListener('error', function (e) {
  document.body.setAttribute('data-errors', String(e.message || e));
});
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img'));
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images', String(imgs.length));
  document.body.setAttribute('data-loaded', String(ok));
  document.getElementById('status').textContent = ok + ' of ' + imgs.length + ' images shown';
});
"""


def _e(value: Any) -> str:
    """Every value that reaches the page goes through here (a name that is not UTF-8 too)."""
    text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return html.escape(text, quote=True)


def read_entries(folder: Path | ObjectOut) -> list[dict[str, Any]]:
    """The manifest's entries (or a URL's records), the latest per key, in request order.

    Raises:
        InvalidRequestError: ``folder`` has no manifest.
    """
    entries = read_any(folder)
    return sorted(entries.values(), key=lambda e: (_number(e.get("index")), str(e.get("at", ""))))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _thumbnail(path: Path | io.BytesIO) -> str:
    from PIL import Image

    with Image.open(path) as image:
        image.draft("RGB", (THUMBNAIL, THUMBNAIL))
        image.thumbnail((THUMBNAIL, THUMBNAIL))
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _link(file: Path, page_dir: Path) -> str:
    """A link from the page to ``file`` that works wherever the page was written."""
    try:
        relative = os.path.relpath(file, page_dir)
    except ValueError:  # another drive (Windows): no relative path exists
        return _e(file.resolve().as_uri())
    return _e(quote(Path(relative).as_posix(), errors="surrogateescape"))


def _image(name: Any, folder: Path | ObjectOut, page_dir: Path, alt: str) -> str:
    """One image as a linked thumbnail, or a broken-image tile saying why."""
    if not isinstance(name, str) or not name:
        return f'<div class="broken">not an image name: {_e(name)}</div>'
    if isinstance(folder, ObjectOut):
        return _stored_image(name, folder, alt)
    file = folder / name
    if not file.resolve().is_relative_to(folder.resolve()):
        return f'<div class="broken">refused: {_e(name)} is outside the run folder</div>'
    try:
        src = _thumbnail(file)
    except Exception as exc:  # missing, unreadable, not an image, a decompression bomb
        reason = "missing" if not file.exists() else f"unreadable ({type(exc).__name__})"
        return f'<div class="broken">{_e(name)}: {reason}</div>'
    return f'<a href="{_link(file, page_dir)}"><img src="{src}" alt="{alt}"></a>'


def _stored_image(name: str, out: ObjectOut, alt: str) -> str:
    """An image in an object store: read through the store, linked by its URL."""
    if name.startswith("/") or ".." in name.split("/"):
        return f'<div class="broken">refused: {_e(name)} is outside the run</div>'
    try:
        src = _thumbnail(io.BytesIO(out.read(name)))
    except Exception as exc:  # missing, unreadable, not an image
        reason = "missing" if isinstance(exc, FileNotFoundError) else type(exc).__name__
        return f'<div class="broken">{_e(name)}: {reason}</div>'
    return f'<a href="{_e(out.uri(name))}"><img src="{src}" alt="{alt}"></a>'


def _grounding(entry: dict[str, Any]) -> str:
    """The search queries and sources a grounded request used, under its images."""
    grounding = entry.get("grounding")
    if not isinstance(grounding, dict):
        return ""
    parts = []
    queries = [q for q in grounding.get("queries") or [] if isinstance(q, str)]
    if queries:
        parts.append(f'<p class="queries">searched: {_e("; ".join(queries))}</p>')
    items = []
    for source in grounding.get("sources") or []:
        if not isinstance(source, dict):
            continue
        uri = str(source.get("uri") or "")
        title = _e(source.get("title") or source.get("domain") or uri or "source")
        domain = (
            f' <span class="domain">{_e(source["domain"])}</span>' if source.get("domain") else ""
        )
        # Only web links become links: never javascript: or data: from a manifest.
        try:
            link = urlsplit(uri).scheme in ("http", "https")
        except ValueError:  # not a URL at all ("http://[::1"): shown as text
            link = False
        label = f'<a href="{_e(uri)}" rel="noopener noreferrer">{title}</a>' if link else title
        items.append(f"<li>{label}{domain}</li>")
    if items:
        parts.append(f'<ul class="sources">{"".join(items)}</ul>')
    return "".join(parts)


def _card(entry: dict[str, Any], folder: Path | ObjectOut, page_dir: Path) -> str:
    prompt = _e(entry.get("prompt") or "")
    cost = entry.get("cost")
    facts = " · ".join(
        _e(x)
        for x in (
            entry.get("aspect_ratio") or "auto ratio",
            entry.get("size") or "1K",
            f"${cost:.3f}"
            if isinstance(cost, int | float) and not isinstance(cost, bool)
            else None,
        )
        if x
    )
    if entry.get("status") != "ok":
        raw = entry.get("error")
        error: dict[str, Any] = raw if isinstance(raw, dict) else {}
        message = _e(f"{error.get('type', 'Error')}: {error.get('message', '')}")
        return (
            f'<div class="card failed"><div class="body"><p class="prompt">{prompt}</p>'
            f'<p class="facts">{facts}</p><p class="error">{message}</p></div></div>'
        )
    found = entry.get("images")
    names: list[Any] = found if isinstance(found, list) else []
    alt = _e(str(entry.get("prompt") or "")[:80])
    views = "".join(_image(name, folder, page_dir, alt) for name in names)
    multi = " multi" if len(names) > 1 else ""
    return (
        f'<div class="card{multi}"><div class="views">{views}</div><div class="body">'
        f'<p class="prompt">{prompt}</p><p class="facts">{facts}</p>{_grounding(entry)}</div></div>'
    )


def write_gallery(
    out_dir: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    wait: float = 0,
) -> Path:
    """Writes ``index.html`` (or ``output``) for the run in ``out_dir``; returns its path.

    Holds a local folder (`FolderLock`) while it reads the manifest and writes the page.
    ``out_dir`` may be a URL: its records are read, and the page (``output``, else a temporary
    file) is also put beside them as ``index.html``.

    Raises:
        InvalidRequestError: ``out_dir`` has no manifest.
        FolderInUseError: A run was writing to ``out_dir`` for longer than ``wait`` seconds.
    """
    folder = _output(out_dir)
    if isinstance(folder, ObjectOut):
        return _write_gallery(folder, output)
    if not folder.is_dir():
        raise InvalidRequestError(f"{folder}: not a folder; a gallery is made of a run folder")
    with FolderLock(folder, wait=wait):
        return _write_gallery(folder, output)


#: Marks a page as written here: only such a page is ever replaced.
_GENERATOR = '<meta name="generator" content="nanobanana gallery">'


def _ours(target: Path) -> bool:
    """True when ``target`` is missing, or a gallery page nanobanana wrote."""
    try:
        with open(target, "rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return _GENERATOR.encode() in head or b"<title>nanobanana \xc2\xb7 " in head


def _write_gallery(folder: Path | ObjectOut, output: str | os.PathLike[str] | None) -> Path:
    ordered = read_entries(folder)
    if isinstance(folder, ObjectOut):
        target = Path(output) if output else Path(tempfile.mkdtemp()) / "index.html"
    else:
        target = Path(output) if output else folder / "index.html"
    if not _ours(target):
        raise InvalidRequestError(
            f"{target} exists and was not written by nanobanana, so it is left as it is. "
            "Pass another output path (--output), or move it away"
        )
    page_dir = target.resolve().parent
    ok = [e for e in ordered if e.get("status") == "ok"]
    failed = len(ordered) - len(ok)
    planned = _manifest.read_planned(folder) if isinstance(folder, Path) else None
    total = max(len(ordered), planned or 0)
    counts = f"{len(ok)} of {total} requests succeeded"
    counts += f" · {failed} failed" if failed else ""
    counts += f" · {total - len(ordered)} not started" if total > len(ordered) else ""
    cost = sum(_number(e.get("cost")) for e in ordered)
    images = sum(len(e["images"]) for e in ok if isinstance(e.get("images"), list))
    name = folder.url if isinstance(folder, ObjectOut) else folder.resolve().name
    title = _e(f"nanobanana · {name}")
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>{_GENERATOR}"
        f"<meta name=viewport content='width=device-width'><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>"
        f'<div class="meta">{counts} · '
        f"{images} image{'' if images == 1 else 's'} · about ${cost:.3f} · {made} · "
        f'<span id="status"></span></div>'
        f'<div class="grid">{"".join(_card(e, folder, page_dir) for e in ordered)}</div>'
        f"<script>{_SCRIPT}</script></body></html>"
    )
    _atomic_write(target, page.encode("utf-8"))
    if isinstance(folder, ObjectOut):
        folder.put("index.html", page.encode("utf-8"))  # derived: rewritten each time
    return target
