"""The key never leaks; the emulator holds up under load; a killed run resumes cleanly."""

from __future__ import annotations

from pathlib import Path

from tests.hardening.cases import emulator_load, key_hygiene, kill_and_resume


def test_the_api_key_appears_nowhere(tmp_path: Path) -> None:
    found = key_hygiene(tmp_path)
    assert found["leaks"] == []
    assert found["places"] >= 12 and found["log_lines"] > 10  # the scan saw real material


def test_emulator_under_load_has_no_errors_and_no_cross_talk() -> None:
    load = emulator_load(clients=64, total=128)
    assert load["errors"] == [] and load["cross_talk"] == []


def test_kill_and_resume_twice(tmp_path: Path) -> None:
    steps = kill_and_resume(tmp_path, [0.9, 1.3], n=18)
    for step in steps:
        assert step["paid_twice"] == [] and step["partial_final_files"] == []
    assert steps[-1]["complete"] and steps[-1]["unlisted_images"] == []
