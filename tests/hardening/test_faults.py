"""Every fault against every entry point: the right retry or the right typed error, nothing
lost, nothing paid twice. ``nox -s faults`` prints the same matrix into docs/reliability.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.cases import ENTRY_POINTS, FAULTS, _expectation, run_cell


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_matrix_cell(fault: str, entry: str, tmp_path: Path) -> None:
    cell = run_cell(fault, entry, tmp_path)
    assert cell.ok, f"{fault} x {entry}: got {cell.outcome}, expected {_expectation(fault, entry)}"
