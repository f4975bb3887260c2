"""The live check's switch, plan and budget. See docs/contributing.md ("The live check").

Real calls cost money, so they run only when both are true: ``GEMINI_API_KEY`` is set, and
``NANOBANANA_LIVE=1`` (which ``nox -s live`` sets). Otherwise every live test is skipped,
saying which of the two is missing. The key is read here, at import, because the suite's
autouse fixture removes it from the environment of every test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

KEY = os.environ.get("GEMINI_API_KEY") or None
ENABLED = KEY is not None and os.environ.get("NANOBANANA_LIVE") == "1"
MAX_COST = float(os.environ.get("NANOBANANA_LIVE_MAX_COST", "1.00"))

if KEY is None:
    SKIP_REASON = "GEMINI_API_KEY is not set: the live check makes real, paid calls (nox -s live)"
elif not ENABLED:
    SKIP_REASON = "live calls cost money: they run only under `nox -s live` (NANOBANANA_LIVE=1)"
else:
    SKIP_REASON = ""

# Upper bounds per call (USD), from the price facts the registry uses (2026-11-25):
# output image + up to 1,000 thinking tokens at $12/M + input. Update with the registry.
PRICE_PER_CALL = {
    "gemini-3-pro-image": 0.134 + 0.012 + 0.001,  # Nano Banana Pro, 1K
    "gemini-3.1-flash-image": 0.067 + 0.012 + 0.001,  # Nano Banana 2, 1K
    "gemini-3.1-flash-image/512": 0.045 + 0.012 + 0.001,  # Nano Banana 2, 512
}
GROUNDING_PER_CALL = 0.014  # a search query past the free monthly allowance

# What the live check does, in order: (test, model, calls, grounded).
PLAN = [
    ("test_pro_generate", "gemini-3-pro-image", 1, False),
    ("test_flash_generate", "gemini-3.1-flash-image", 1, False),
    ("test_grounded_call", "gemini-3.1-flash-image", 1, True),
    ("test_two_turn_edit", "gemini-3.1-flash-image", 2, False),
    # 2.5 Flash Image, the cheapest once, was shut down on the Gemini API on 2026-10-02.
    ("test_burst", "gemini-3.1-flash-image/512", 6, False),
]


def expected_spend() -> float:
    return sum(
        calls * (PRICE_PER_CALL[model] + (GROUNDING_PER_CALL if grounded else 0))
        for _, model, calls, grounded in PLAN
    )


def pytest_report_header() -> list[str]:
    if not ENABLED:
        return [f"live: skipped: {SKIP_REASON}"]
    lines = [f"live: expected spend at most ${expected_spend():.2f} (cap ${MAX_COST:.2f}):"]
    lines += [
        f"  {test}: {calls} x {model.partition('/')[0]} {model.partition('/')[2] or '1K'}"
        f"{' + Google Search' if grounded else ''}"
        for test, model, calls, grounded in PLAN
    ]
    return lines


@dataclass
class Budget:
    """Refuses a call that could pass the cap; counts what was spent."""

    cap: float
    spent: float = 0.0
    log: list[str] = field(default_factory=list)

    def reserve(self, model: str, calls: int = 1, grounded: bool = False) -> None:
        bound = calls * (PRICE_PER_CALL[model] + (GROUNDING_PER_CALL if grounded else 0))
        if self.spent + bound > self.cap:
            pytest.skip(
                f"would pass the cap: ${self.spent:.2f} spent + ${bound:.2f} > ${self.cap:.2f} "
                "(raise NANOBANANA_LIVE_MAX_COST)"
            )
        self.spent += bound  # counted as the upper bound until the call reports its cost


@pytest.fixture(scope="session")
def budget() -> Budget:
    if not ENABLED:
        pytest.skip(SKIP_REASON)
    if expected_spend() > MAX_COST:
        pytest.skip(
            f"the plan may spend ${expected_spend():.2f}, over the cap ${MAX_COST:.2f} "
            "(NANOBANANA_LIVE_MAX_COST)"
        )
    return Budget(MAX_COST)
