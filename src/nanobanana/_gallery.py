"""A static, self-contained HTML contact sheet of a run, from its manifest.

Each image appears as an embedded thumbnail (linking to the full file beside the page) with its
prompt, ratio, size and cost; each failure with its error. One file, no network: it can be
mailed or attached to a ticket. Never the API key: the manifest holds none.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._errors import InvalidRequestError
from ._image import atomic_write as _atomic_write
from ._manifest import MANIFEST_NAME

__all__ = ["write_gallery"]

THUMBNAIL = 480

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;background:#faf8f2;color:#222}
h1{font-size:20px;margin:0 0 4px}.meta{color:#666;margin-bottom:20px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:16px}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 4px #0002;overflow:hidden}
.card img{width:100%;display:block;background:#eee}
.card .body{padding:10px 12px}.prompt{margin:0 0 6px}
.facts{color:#666;font-size:12px}.failed{border:2px solid #d33}
.error{color:#b00;font-size:12px;white-space:pre-wrap}
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


def _thumbnail(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as image:
        image.draft("RGB", (THUMBNAIL, THUMBNAIL))
        image.thumbnail((THUMBNAIL, THUMBNAIL))
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _card(entry: dict[str, Any], out_dir: Path) -> str:
    prompt = html.escape(str(entry.get("prompt") or ""))
    facts = " · ".join(
        str(x)
        for x in (
            entry.get("aspect_ratio") or "auto ratio",
            entry.get("size") or "1K",
            f"${entry['cost']:.3f}" if isinstance(entry.get("cost"), int | float) else None,
        )
        if x
    )
    if entry.get("status") != "ok":
        error = entry.get("error") or {}
        message = html.escape(f"{error.get('type', 'Error')}: {error.get('message', '')}")
        return (
            f'<div class="card failed"><div class="body"><p class="prompt">{prompt}</p>'
            f'<p class="facts">{facts}</p><p class="error">{message}</p></div></div>'
        )
    images = []
    for name in entry.get("images", []):
        file = out_dir / name
        if file.exists():
            link = html.escape(name)
            images.append(
                f'<a href="{link}"><img src="{_thumbnail(file)}" alt="{prompt[:80]}"></a>'
            )
    return (
        f'<div class="card">{"".join(images)}<div class="body"><p class="prompt">{prompt}</p>'
        f'<p class="facts">{facts}</p></div></div>'
    )


def write_gallery(out_dir: str | Path, output: str | Path | None = None) -> Path:
    """Writes ``index.html`` (or ``output``) for the run in ``out_dir``; returns its path.

    Raises:
        InvalidRequestError: ``out_dir`` has no manifest.
    """
    folder = Path(out_dir)
    manifest = folder / MANIFEST_NAME
    if not manifest.exists():
        raise InvalidRequestError(
            f"{folder}: no {MANIFEST_NAME} here: is this a nanobanana run folder?"
        )
    entries: dict[str, dict[str, Any]] = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn last line
        entries[entry.get("key", str(len(entries)))] = entry  # the latest line for a key wins
    ordered = sorted(entries.values(), key=lambda e: (e.get("index", 0), e.get("at", "")))
    ok = [e for e in ordered if e.get("status") == "ok"]
    cost = sum(e.get("cost") or 0 for e in ordered)
    title = f"nanobanana · {folder.resolve().name}"
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f'<div class="meta">{len(ok)} of {len(ordered)} requests succeeded · '
        f"{sum(len(e.get('images', [])) for e in ok)} images · about ${cost:.2f} · {made} · "
        f'<span id="status"></span></div>'
        f'<div class="grid">{"".join(_card(e, folder) for e in ordered)}</div>'
        f"<script>{_SCRIPT}</script></body></html>"
    )
    target = Path(output) if output else folder / "index.html"
    _atomic_write(target, page.encode("utf-8"))
    return target
