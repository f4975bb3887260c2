"""A spend cap shared by workers that share nothing but an output store.

Workers (Beam's, on many machines) cannot share a counter, so the cap is cut into slices
reserved in the store: ``budget/<i>.json``, each written create-only and sized from the sum of
slices ``0..i-1``, so the slices together never exceed ``max_cost``. A worker reserves a slice
when it has none left, spends its calls' estimates from it (then their actual cost), and
reserves the next when it runs dry. Two workers racing for slice ``i``: one wins, the other
re-reads and takes ``i+1``. What a worker leaves unspent in its last slice is not spent by
others: the cap may stop a run up to one slice per worker early, never late.
"""

from __future__ import annotations

import json

from .store import ObjectOut

__all__ = ["Budget"]

#: The cap is cut into about this many slices (fewer when a call costs more than a slice).
SLICES = 64


class Budget:
    """One worker's share of a store-wide ``max_cost``."""

    def __init__(self, out: ObjectOut, max_cost: float) -> None:
        self.out = out
        self.max_cost = max_cost
        self.left = 0.0
        """USD reserved in this worker's slices and not yet spent."""

    def reserve(self, estimate: float) -> bool:
        """Takes ``estimate`` from this worker's slices (reserving one more if needed)."""
        while self.left < estimate:
            if not self._claim(estimate - self.left):
                return False
        self.left -= estimate
        return True

    def settle(self, estimate: float, actual: float) -> None:
        """A call came back costing ``actual``: the difference returns to (or leaves) the slice."""
        self.left += estimate - actual

    def _claim(self, need: float) -> bool:
        for _ in range(1000):  # each lost race means another slice was taken: re-read
            claimed = [self.out.read_json(n) for n in self.out.names("budget")]
            total = sum(float(c.get("usd", 0.0)) for c in claimed)
            room = self.max_cost - total
            size = min(room, max(need, self.max_cost / SLICES))
            if size < need - 1e-12:
                return False
            body = json.dumps({"usd": size, "after": total}).encode()
            if self.out.put_new(f"budget/{len(claimed):06d}.json", body):
                self.left += size
                return True
        return False
