"""Models that retire: warn before sending to one shut down, and explain the 404 that follows.

A retired preview id is its GA twin under an old name (`registry.resolve_model` maps it); a
model shut down without a twin is still sent (the date may differ on another backend, or be
postponed), after a `ModelShutDownWarning` naming the date and a replacement. The 404 it
gets back becomes a `NotFoundError` that says so. Dates are compared with the client's
``today`` (injectable); where a backend's date is unknown nothing is warned.
"""

from __future__ import annotations

import warnings
from datetime import date

from .._errors import ModelShutDownWarning, NotFoundError, user_stacklevel
from .registry import shutdown_of

__all__ = ["backend_of", "explain_not_found", "warn_if_shut_down"]

_NAMES = {"gemini": "the Gemini API", "vertex": "Vertex AI"}


def backend_of(vertex: bool) -> str:
    """``"vertex"`` or ``"gemini"``, as the registry's lifecycle names backends."""
    return "vertex" if vertex else "gemini"


def _shut_down(model: str, backend: str, when: date, replacement: str | None) -> str:
    text = f"{model} was shut down on {_NAMES[backend]} on {when.isoformat()}"
    if replacement:
        text += f"; use {replacement} instead (model={replacement!r})"
    return text


def warn_if_shut_down(model: object, backend: str, today: date) -> None:
    """Warns (`ModelShutDownWarning`) when ``model``'s shutdown date on ``backend`` has passed."""
    if not isinstance(model, str):
        return
    found = shutdown_of(model.removeprefix("models/"), backend, today)
    if found is not None:
        warnings.warn(
            f"{_shut_down(model, backend, *found)}. Sending it anyway: the API will most "
            "likely answer 404.",
            ModelShutDownWarning,
            stacklevel=user_stacklevel(),
        )


def explain_not_found(
    error: NotFoundError, model: object, backend: str, today: date
) -> NotFoundError | None:
    """The 404 of a shut-down model, saying so and what to use; ``None`` for any other 404."""
    if not isinstance(model, str):
        return None
    found = shutdown_of(model.removeprefix("models/"), backend, today)
    if found is None:
        return None
    explained = NotFoundError(
        f"{_shut_down(model, backend, *found)}. The API answered: {error.message}",
        code=error.code,
        status=error.status,
        details=error.details,
    )
    return explained
