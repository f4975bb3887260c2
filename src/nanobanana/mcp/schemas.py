"""What the tools return: typed, so each tool publishes an output schema an agent can rely on."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = [
    "IMAGE_URI",
    "BatchOutput",
    "CostQuote",
    "ImageOutput",
    "ModelOutput",
    "ModelsOutput",
    "SavedImage",
    "SessionInfo",
    "SessionsOutput",
    "SourceOut",
    "ToolFailure",
]

#: The resource URI of a saved image: ``nanobanana://images/<file name>``.
IMAGE_URI = "nanobanana://images/"


class ToolFailure(Exception):
    """Every call of a tool failed: the first failure's type and message (a tool error)."""


class SavedImage(BaseModel):
    """One image, saved in the server's output folder (never over another file)."""

    path: str = Field(description="Absolute path of the full-size image on the server's disk.")
    uri: str = Field(description="Resource URI: read it for the full image (resources/read).")
    mime_type: str
    width: int | None = None
    height: int | None = None
    bytes: int = Field(description="Size of the full image file.")


class SourceOut(BaseModel):
    """A Google Search source the image was grounded in (Google's terms ask to show these)."""

    uri: str
    title: str | None = None


class ImageOutput(BaseModel):
    """What a generation or edit gave: the saved images, the model's text, usage and cost."""

    images: list[SavedImage] = Field(default_factory=list)
    text: str = Field(default="", description="The model's text beside the images.")
    model: str
    cost_usd: float = Field(description="USD this call cost (billed tokens, list prices).")
    usage: dict[str, int] = Field(default_factory=dict, description="Token counts.")
    finish_reasons: list[str] = Field(default_factory=list)
    search_queries: list[str] = Field(default_factory=list)
    sources: list[SourceOut] = Field(default_factory=list)
    search_entry_point_html: str | None = Field(
        default=None, description="Google's search-suggestions chip, to display with results."
    )
    failures: list[str] = Field(
        default_factory=list, description="Images of this call that failed (count > 1)."
    )
    session_id: str | None = None
    turns: int | None = Field(default=None, description="Turns in the session after this one.")
    budget_remaining_usd: float | None = Field(
        default=None, description="What remains of the server's --max-cost budget."
    )


class SessionInfo(BaseModel):
    """One saved edit session."""

    session_id: str
    model: str | None
    aspect_ratio: str | None = None
    size: str | None = None
    turns: int
    last_prompt: str | None = None
    file: str


class SessionsOutput(BaseModel):
    """The saved sessions."""

    sessions: list[SessionInfo]


class BatchOutput(BaseModel):
    """A Batch API job: half price, results within 24 hours."""

    name: str = Field(description="The job's name: pass it to batch_status and batch_results.")
    status: str
    requests: int | None = None
    images: list[SavedImage] = Field(default_factory=list)
    cost_usd: float | None = None
    errors: list[str] = Field(default_factory=list)


class ModelOutput(BaseModel):
    """One image model: its lifecycle, what it accepts, what it costs."""

    id: str
    name: str | None = None
    status: str = Field(description="'available', 'retired' (use replacement) or 'unknown'.")
    replacement: str | None = None
    aspect_ratios: list[str] = Field(default_factory=list)
    sizes: list[str] = Field(default_factory=list)
    thinking_levels: list[str] = Field(default_factory=list)
    search: list[str] = Field(default_factory=list)
    max_references: int | None = None
    usd_per_1k_image: float | None = None
    listed_by_api: bool = Field(description="True when models.list returned it for this key.")


class ModelsOutput(BaseModel):
    """The image models known to the registry or listed for this key."""

    default_model: str
    models: list[ModelOutput]


class CostQuote(BaseModel):
    """A conservative estimate before anything is paid."""

    model: str
    count: int
    usd_per_call: float | None
    usd_total: float | None
    usd_total_batch: float | None = Field(description="The same through the Batch API.")
    budget_remaining_usd: float | None = None
    note: str
