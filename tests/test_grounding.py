"""Google Search grounding: parsing what came back, showing it, saving it."""

from __future__ import annotations

import json

from google.genai import types
from hypothesis import given
from hypothesis import strategies as st

from nanobanana._result.grounding import Grounding, GroundingSource, parse_grounding

REDIRECT = "https://vertexaisearch.cloud.google.com/grounding-api-redirect/AUZIYQ"
CHIP = '<style>.chip{color:#1f1f1f}</style><div class="container"><a class="chip" href="https://www.google.com/search?q=paris+weather">paris weather</a></div>'

# The shape recorded live (FACTS): an empty query among the real ones, redirect uris, a title
# that is a host name, an empty title, and with image search its queries and image chunks.
GROUNDED = {
    "content": {"role": "model", "parts": [{"inlineData": {"mimeType": "image/jpeg", "data": ""}}]},
    "finishReason": "STOP",
    "groundingMetadata": {
        "webSearchQueries": ["weather in Paris today", "", "Paris forecast November"],
        "groundingChunks": [
            {"web": {"uri": f"{REDIRECT}1", "title": "meteofrance.com"}},
            {"web": {"uri": f"{REDIRECT}2", "title": ""}},
            {"web": {"uri": f"{REDIRECT}3", "title": "Weather - BBC"}},
            {"image": {"sourceUri": "https://example.org/page", "imageUri": "https://example.org/a.jpg",
                       "title": "Eiffel Tower at dusk", "domain": "example.org"}},
        ],
        "searchEntryPoint": {"renderedContent": CHIP},
        "imageSearchQueries": ["eiffel tower dusk"],
    },
}  # fmt: skip


def test_the_recorded_shape() -> None:
    g = parse_grounding(GROUNDED)
    assert g is not None
    assert g.queries == ("weather in Paris today", "Paris forecast November")  # "" dropped
    assert g.sources == (
        GroundingSource(f"{REDIRECT}1", "meteofrance.com", "meteofrance.com"),
        GroundingSource(f"{REDIRECT}2", None, None),
        GroundingSource(f"{REDIRECT}3", "Weather - BBC", None),  # not a host name
    )
    assert g.image_queries == ("eiffel tower dusk",)
    assert g.image_sources == (
        GroundingSource("https://example.org/page", "Eiffel Tower at dusk", "example.org",
               image_uri="https://example.org/a.jpg"),
    )  # fmt: skip
    assert g.entry_point_html == CHIP
    assert g.search_queries == 3


def test_snake_case_as_google_genai_dumps_it_parses_the_same() -> None:
    candidate = types.Candidate.model_validate(GROUNDED)
    snake = candidate.model_dump(mode="json", exclude_none=True)
    assert "grounding_metadata" in snake
    camel = candidate.model_dump(mode="json", exclude_none=True, by_alias=True)
    assert parse_grounding(snake) == parse_grounding(camel) == parse_grounding(GROUNDED)


def test_no_grounding_is_none() -> None:
    assert parse_grounding({"content": {"parts": []}, "finishReason": "STOP"}) is None
    assert parse_grounding({"groundingMetadata": None}) is None
    assert parse_grounding(None) is None
    assert parse_grounding({"groundingMetadata": {}}) == Grounding()  # asked, nothing found


def test_odd_shapes_are_skipped_not_fatal() -> None:
    odd = {
        "groundingMetadata": {
            "webSearchQueries": "not a list",
            "groundingChunks": [None, 3, {"web": "x"}, {"web": {"title": "no uri"}},
                                {"web": {"uri": 5}}, {"web": {"uri": "https://a.example"}}],
            "searchEntryPoint": {"renderedContent": 42},
        }
    }  # fmt: skip
    g = parse_grounding(odd)
    assert g == Grounding(sources=(GroundingSource("https://a.example"),))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "groundingMetadata",
                    "grounding_metadata",
                    "webSearchQueries",
                    "groundingChunks",
                    "web",
                    "image",
                    "uri",
                    "title",
                    "domain",
                    "sourceUri",
                    "imageUri",
                    "searchEntryPoint",
                    "renderedContent",
                    "imageSearchQueries",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@given(JSON)
def test_any_json_gives_a_grounding_or_none(value: object) -> None:
    g = parse_grounding(value)
    assert g is None or isinstance(g, Grounding)
    if g is not None:
        json.dumps(g.to_json())
        assert all(q.strip() for q in g.queries + g.image_queries)
        assert Grounding.from_json(json.loads(json.dumps(g.to_json()))) == g


def test_json_round_trip() -> None:
    g = parse_grounding(GROUNDED)
    saved = json.loads(json.dumps(g.to_json()))
    assert saved["queries"] == ["weather in Paris today", "Paris forecast November"]
    assert saved["sources"][0] == {
        "uri": f"{REDIRECT}1", "title": "meteofrance.com", "domain": "meteofrance.com",
        "image_uri": None,
    }  # fmt: skip
    assert Grounding.from_json(saved) == g
    assert Grounding.from_json("nonsense") is None


def test_html_shows_the_chip_sandboxed_and_the_sources_escaped() -> None:
    evil = Grounding(
        queries=("<b>q</b>",),
        sources=(
            GroundingSource('https://ex.com/?a=1&b="2"', "<script>alert(1)</script>", "ex.com"),
            GroundingSource("javascript:alert(1)", "click me"),
        ),
        entry_point_html='<a href="x">"chip"</a><script>steal()</script>',
    )
    page = evil.to_html()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="https://ex.com/?a=1&amp;b=&quot;2&quot;"' in page
    assert 'href="javascript' not in page and "click me" in page
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page
    assert 'srcdoc="&lt;a href=&quot;x&quot;&gt;&quot;chip&quot;&lt;/a&gt;' in page
    assert evil._repr_html_() == page


def test_html_of_the_recorded_answer() -> None:
    g = parse_grounding(GROUNDED)
    assert g is not None
    page = g.to_html()
    assert page.count("<li>") == 4 and "Image sources" in page
    assert "(example.org)" in page and "meteofrance.com</a>" in page
    only_queries = Grounding(queries=("a & b",)).to_html()
    assert "Searched: a &amp; b" in only_queries
