"""The gallery reads an untrusted manifest: escaped, confined to its folder, never crashing."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from nanobanana._runs.gallery import write_gallery
from tests.conftest import photo


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.attributes += [name for name, _ in attrs]


def run_folder(tmp_path: Path, *entries: dict[str, Any]) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "fox.jpg").write_bytes(photo(64, 48))
    lines = [
        json.dumps({"key": str(i), "index": i, "status": "ok", **e}) for i, e in enumerate(entries)
    ]
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_every_value_is_escaped(tmp_path: Path) -> None:
    evil = '"><script>alert(1)</script>'
    folder = run_folder(
        tmp_path,
        {"prompt": evil, "aspect_ratio": evil, "size": evil, "cost": evil, "images": ["fox.jpg"],
         "mime_type": evil},
        {"status": "failed", "prompt": "x", "error": {"type": evil, "message": evil}},
    )  # fmt: skip
    page = write_gallery(folder).read_text()
    tags = Tags()
    tags.feed(page)
    assert tags.scripts == 1  # the page's own
    assert not [a for a in tags.attributes if a.startswith("on")]
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5


def test_paths_outside_the_run_are_refused_and_missing_images_are_cards(tmp_path: Path) -> None:
    (tmp_path / "secret.jpg").write_bytes(photo(16, 16))
    (tmp_path / "notes.jpg").write_text("")  # unreadable as an image
    folder = run_folder(tmp_path, {"prompt": "p", "images": ["../secret.jpg", "gone.jpg",
                                                              "/etc/passwd", 7]})  # fmt: skip
    (folder / "bad.jpg").write_text("not a jpeg")
    (folder / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    write_gallery(folder)  # no crash
    with (folder / "manifest.jsonl").open("a") as f:
        f.write(json.dumps({"key": "b", "index": 9, "status": "ok", "prompt": "q",
                            "images": ["bad.jpg", "link.jpg"]}) + "\n")  # fmt: skip
    page = write_gallery(folder).read_text()
    assert page.count("outside the run folder") == 3  # ../, absolute, a symlink out
    assert "gone.jpg: missing" in page and "bad.jpg: unreadable" in page
    assert "not an image name: 7" in page
    assert "<img" not in page  # none of them shown


def test_links_work_from_wherever_the_page_is_written(tmp_path: Path) -> None:
    folder = run_folder(tmp_path, {"prompt": "p", "images": ["fox.jpg"]})
    page = write_gallery(folder, tmp_path / "elsewhere" / "deep" / "page.html")
    assert 'href="../../run/fox.jpg"' in page.read_text()
    assert 'href="fox.jpg"' in write_gallery(folder).read_text()


def test_a_character_sheet_shows_its_views_side_by_side(tmp_path: Path) -> None:
    folder = run_folder(tmp_path, {"prompt": "sheet", "images": ["fox.jpg"] * 3})
    page = write_gallery(folder).read_text()
    card = re.search(r'<div class="card multi"><div class="views">(.*?)</div>', page)
    assert card and card.group(1).count("<img") == 3


def test_grounding_sources_show_under_the_image(tmp_path: Path) -> None:
    long_url = "https://weather.example.com/" + "a" * 300
    grounding = {
        "queries": ["paris weather tomorrow"],
        "sources": [
            {"uri": long_url, "title": "Paris <forecast>", "domain": "weather.example.com"},
            {"uri": "javascript:alert(1)", "title": "evil", "domain": "evil.example"},
        ],
    }
    folder = run_folder(tmp_path, {"prompt": "p", "images": ["fox.jpg"], "grounding": grounding})
    page = write_gallery(folder).read_text()
    assert "searched: paris weather tomorrow" in page
    assert f'<a href="{long_url}" rel="noopener noreferrer">Paris &lt;forecast&gt;</a>' in page
    assert "javascript:" not in page and "<li>evil" in page
    assert "overflow-wrap:anywhere" in page  # long URLs and errors wrap
