"""nanobanana.beam on the DirectRunner against the emulator: never paid twice, cap kept."""

from __future__ import annotations

import collections
import json

import pytest

beam = pytest.importorskip("apache_beam")

from apache_beam.testing.util import assert_that  # noqa: E402

from nanobanana import GenerationRequest, InvalidRequestError  # noqa: E402
from nanobanana._runs.records import read_any  # noqa: E402
from nanobanana._runs.store import ObjectOut  # noqa: E402
from nanobanana.beam import GenerateImages, as_request  # noqa: E402
from nanobanana.testing import Fault  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")  # Beam's own deprecation noise


def answered(server) -> collections.Counter:
    """Prompts the emulator answered (and billed) with an image."""
    return collections.Counter(
        r.body["contents"][-1]["parts"][0]["text"] for r in server.generate_requests
    )


_GOT: list[dict] = []


def _keep(entries) -> None:
    _GOT.extend(entries)  # a module global: Beam pickles functions by reference


def run(fake, policy, out, items, *, fail_after=False, **kw):
    _GOT.clear()
    with beam.Pipeline() as p:
        results = (
            p
            | beam.Create(items)
            | GenerateImages(
                out, base_url=fake.url, api_key="t", retry=policy, throttle_delay_secs=0, **kw
            )
        )
        if fail_after:  # fails the bundle after its calls were answered and recorded
            results | beam.Map(_explode)
        assert_that(results, _keep)
    return list(_GOT)


def _explode(entry):
    raise RuntimeError("the worker died after the answers came")


def test_requests_dicts_and_lines_all_become_results(fake_gemini, policy) -> None:
    out = "memory://beam/mixed"
    items = [GenerationRequest(prompt="a paper crane"), {"prompt": "a paper boat", "n": 2},
             json.dumps({"prompt": "a paper plane", "aspect_ratio": "16:9"}), '"a paper hat"']  # fmt: skip
    got = run(fake_gemini, policy, out, items)
    assert len(got) == 5 and all(e["status"] == "ok" for e in got)
    for entry in got:
        assert entry["uris"][0].startswith(f"{out}/") and entry["cost"] > 0
        assert entry["usage"]["output_tokens"] > 0
    assert answered(fake_gemini)["a paper boat"] == 2  # n=2: two items, two keys
    assert len(read_any(ObjectOut(out))) == 5


def test_a_failed_bundle_or_a_rerun_pays_nothing_twice(fake_gemini, policy) -> None:
    out = "memory://beam/rerun"
    prompts = [f"a glass bird number {i}" for i in range(6)]
    fake_gemini.push(Fault.unavailable(), Fault.unavailable())  # 503s: retried, not billed
    with pytest.raises(Exception, match="the worker died"):
        run(fake_gemini, policy, out, prompts, fail_after=True)
    recorded = len(read_any(ObjectOut(out)))
    assert recorded >= 1  # answered and recorded before its bundle failed
    again = run(fake_gemini, policy, out, prompts)
    assert len(again) == 6 and sum(bool(e.get("skipped")) for e in again) == recorded
    # Every prompt was answered exactly once over both runs: 6 answers + the 2 faults.
    assert len(fake_gemini.generate_requests) == 6 + 2
    assert set(answered(fake_gemini)) == set(prompts)
    assert len(read_any(ObjectOut(out))) == 6 and not list(ObjectOut(out).names("duplicates"))


def test_the_cap_is_never_exceeded(fake_gemini, policy) -> None:
    one = GenerationRequest(prompt="x").estimated_cost()
    out = "memory://beam/cap"
    got = run(fake_gemini, policy, out, [f"a tin toy number {i}" for i in range(8)],
              max_cost=one * 3.5)  # fmt: skip
    done = [e for e in got if e["status"] == "ok"]
    assert 1 <= len(done) <= 3
    assert sum(e["cost"] for e in done) <= one * 3.5
    assert {e["status"] for e in got} == {"ok", "not_started"}


def test_bad_items_and_outputs_are_named() -> None:
    with pytest.raises(InvalidRequestError, match="not a JSON line"):
        as_request("{oops")
    with pytest.raises(InvalidRequestError, match="got int"):
        as_request(3)
    with pytest.raises(InvalidRequestError, match="names a bucket"):
        GenerateImages("s3:///no-bucket")
