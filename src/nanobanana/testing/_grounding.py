"""Google Search grounding metadata shaped like the live answers (FACTS).

Web queries (one of them possibly empty), web chunks with redirect-style uris (a title may be
empty), a ~5 KB HTML+CSS search chip, and for image search its queries and image chunks.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

__all__ = ["grounding_metadata"]

_REDIRECT = "https://vertexaisearch.cloud.google.com/grounding-api-redirect/"
_SITES = (
    ("en.wikipedia.org", "Wikipedia"), ("www.britannica.com", "Britannica"),
    ("www.nationalgeographic.com", "National Geographic"), ("www.bbc.com", "BBC"),
    ("www.reuters.com", "Reuters"), ("apnews.com", ""),
)  # fmt: skip

_CSS = """.container {
  align-items: center;
  border-radius: 8px;
  display: flex;
  font-family: Google Sans, Roboto, sans-serif;
  font-size: 14px;
  line-height: 20px;
  padding: 8px 12px;
}
.chip {
  display: inline-block;
  border: solid 1px;
  border-radius: 16px;
  min-width: 14px;
  padding: 5px 16px;
  text-align: center;
  user-select: none;
  margin: 0 8px;
  -webkit-tap-highlight-color: transparent;
}
.carousel {
  overflow: auto;
  scrollbar-width: none;
  white-space: nowrap;
  margin-right: -12px;
}
.headline {
  display: flex;
  margin-right: 4px;
}
.gradient-container {
  position: relative;
}
.headline-label {
  font-family: Google Sans, Roboto, sans-serif;
  font-size: 14px;
  font-weight: 500;
  line-height: 20px;
  margin-left: 8px;
  white-space: nowrap;
}
.logo-light, .logo-dark {
  display: inline-block;
  flex-shrink: 0;
  height: 18px;
  width: 18px;
}
a.chip {
  cursor: pointer;
  font-family: Google Sans, Roboto, sans-serif;
  font-size: 14px;
  line-height: 20px;
  outline: none;
  transition: background-color 0.15s ease-in-out, border-color 0.15s ease-in-out;
}
a.chip:first-child {
  margin-left: 0;
}
.carousel::-webkit-scrollbar {
  display: none;
}
.gradient {
  position: absolute;
  transform: translate(3px, -9px);
  height: 36px;
  width: 9px;
}
@media (prefers-color-scheme: light) {
  .container { background-color: #fafafa; box-shadow: 0 0 0 1px #0000000f; }
  .headline-label { color: #1f1f1f; }
  .chip { background-color: #ffffff; border-color: #d2d2d2; color: #5e5e5e;
          text-decoration: none; }
  .chip:hover { background-color: #f2f2f2; }
  .chip:focus { background-color: #f2f2f2; }
  .chip:active { background-color: #d8d8d8; border-color: #b6b6b6; }
  .logo-dark { display: none; }
  .gradient { background: linear-gradient(90deg, #fafafa 15%, #fafafa00 100%); }
}
@media (prefers-color-scheme: dark) {
  .container { background-color: #1f1f1f; box-shadow: 0 0 0 1px #ffffff26; }
  .headline-label { color: #fff; }
  .chip { background-color: #2c2c2c; border-color: #3c4043; color: #fff;
          text-decoration: none; }
  .chip:hover { background-color: #353536; }
  .chip:focus { background-color: #353536; }
  .chip:active { background-color: #464849; border-color: #53575b; }
  .logo-light { display: none; }
  .gradient { background: linear-gradient(90deg, #1f1f1f 15%, #1f1f1f00 100%); }
}
"""
_LOGO = (
    '<svg class="logo-{mode}" width="18" height="18" viewBox="0 0 48 48" '
    'xmlns="http://www.w3.org/2000/svg"><path fill="#4285F4" d="M45.12 24.5c0-1.56-.14-3.06-.4'
    "-4.5H24v8.51h11.84c-.51 2.75-2.06 5.08-4.39 6.64v5.52h7.11c4.16-3.83 6.56-9.47 6.56-16.17z"
    '"/><path fill="#34A853" d="M24 46c5.94 0 10.92-1.97 14.56-5.33l-7.11-5.52c-1.97 1.32-4.49 '
    '2.1-7.45 2.1-5.73 0-10.58-3.87-12.31-9.07H4.34v5.7C7.96 41.07 15.4 46 24 46z"/><path '
    'fill="#FBBC05" d="M11.69 28.18C11.25 26.86 11 25.45 11 24s.25-2.86.69-4.18v-5.7H4.34C2.85 '
    '17.09 2 20.45 2 24c0 3.55.85 6.91 2.34 9.88l7.35-5.7z"/><path fill="#EA4335" d="M24 10.75c'
    "3.23 0 6.13 1.11 8.41 3.29l6.31-6.31C34.91 4.18 29.93 2 24 2 15.4 2 7.96 6.93 4.34 14.12l7"
    '.35 5.7c1.73-5.2 6.58-9.07 12.31-9.07z"/></svg>'
)


def _chip(queries: list[str], rng: random.Random) -> str:
    chips = "\n".join(
        f'    <a class="chip" href="https://www.google.com/search?client=app-vertex-grounding'
        f"&safesearch=active&q={q.replace(' ', '+')}&rlz={rng.getrandbits(64):016x}"
        f'">{q}</a>'
        for q in queries
        if q
    )
    return (
        f"<style>\n{_CSS}</style>\n"
        '<div class="container">\n  <div class="headline">\n    '
        + _LOGO.format(mode="light")
        + "\n    "
        + _LOGO.format(mode="dark")
        + '\n    <div class="gradient-container"><div class="gradient"></div></div>\n  </div>\n'
        f'  <div class="carousel">\n{chips}\n  </div>\n</div>\n'
    )


def grounding_metadata(prompt: str, *, web: bool, image: bool) -> dict[str, Any]:
    """Grounding metadata for a grounded answer, the same for the same prompt."""
    rng = random.Random(hashlib.sha256(prompt.encode()).digest())
    topic = " ".join(prompt.split()[:6]) or "image"
    meta: dict[str, Any] = {}
    if web:
        queries = [topic, f"{topic} latest", f"{topic} photos"][: 1 + rng.randrange(3)]
        if rng.random() < 0.3:
            queries.append("")  # an empty query was seen live
        chunks = []
        for _ in range(2 + rng.randrange(3)):
            domain, title = rng.choice(_SITES)
            token = hashlib.sha256(f"{domain}{rng.random()}".encode()).hexdigest()
            chunks.append({"web": {"uri": _REDIRECT + "AUZIYQ" + token, "title": title or ""}})
        meta["webSearchQueries"] = queries
        meta["groundingChunks"] = chunks
        meta["searchEntryPoint"] = {"renderedContent": _chip(queries, rng)}
    if image:
        meta["imageSearchQueries"] = [f"{topic} reference photo"]
        images = []
        for k in range(2):
            domain, title = rng.choice(_SITES)
            images.append(
                {
                    "image": {
                        "sourceUri": f"https://{domain}/articles/{rng.getrandbits(32):08x}",
                        "imageUri": f"https://{domain}/images/{rng.getrandbits(32):08x}-{k}.jpg",
                        "title": title or topic,
                        "domain": domain,
                    }
                }
            )
        meta.setdefault("groundingChunks", []).extend(images)
    return meta
