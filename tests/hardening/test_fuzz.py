"""Fuzzed responses: parsing gives a Result or a NanoBananaError, and never drops an intact
final image. A few hundred examples here; ``nox -s faults`` runs 10,000."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.hardening.cases import check_parse, responses


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(responses)
def test_parser_never_loses_an_intact_image(body) -> None:
    check_parse(body)
