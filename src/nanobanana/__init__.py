"""nanobanana: a typed, safe SDK for Google's Nano Banana Pro image model.

Example:
    >>> from nanobanana import NanoBanana
    >>> result = NanoBanana().generate("A red fox in fresh snow", aspect_ratio="16:9")
    >>> result.image.save("fox.jpg")

Names are imported on first use (PEP 562), so ``import nanobanana`` stays cheap and the CLI's
``--help`` never loads google-genai, Pillow or pydantic.
"""

from __future__ import annotations

import importlib as _importlib

# Not `typing.TYPE_CHECKING`: importing typing alone costs the CLI's --help path ~5 ms.
_TYPE_CHECKING = False

__version__ = "0.1.0.dev0"

_EXPORTS = {
    "APIConnectionError": "._errors",
    "APIError": "._errors",
    "APITimeoutError": "._errors",
    "AspectRatio": "._request.request",
    "AsyncBatchJob": "._batch.jobs",
    "AsyncBatches": "._batch.jobs",
    "AsyncNanoBanana": "._client",
    "AsyncSession": "._sessions.session",
    "AsyncStream": "._stream",
    "BadRequestError": "._errors",
    "BatchJob": "._batch.jobs",
    "BatchRunReport": "._batch.shards",
    "Batches": "._batch.jobs",
    "BatchJobError": "._errors",
    "CharacterFromPhoto": ".prompts",
    "CorruptManifestError": "._errors",
    "CharacterSheet": ".prompts",
    "FolderInUseError": "._errors",
    "GeneratedImage": "._images.generated",
    "GenerationError": "._errors",
    "GroundingSource": "._result.grounding",
    "GenerationRequest": "._request.request",
    "Grounding": "._result.grounding",
    "ImageSize": "._request.request",
    "ImageSource": "._request.types",
    "InvalidAPIKeyError": "._errors",
    "ImageExpiredError": "._errors",
    "InvalidReferenceError": "._errors",
    "InvalidRequestError": "._errors",
    "InvalidResponseError": "._errors",
    "LintIssue": ".prompts",
    "ManifestWriteError": "._errors",
    "MissingAPIKeyError": "._errors",
    "MissingImagesWarning": "._errors",
    "ModelShutDownWarning": "._errors",
    "ModelSummary": "._models.catalog",
    "NanoBanana": "._client",
    "NanoBananaError": "._errors",
    "NoImageError": "._errors",
    "NotFoundError": "._errors",
    "PermissionDeniedError": "._errors",
    "ProductShot": ".prompts",
    "Prompt": ".prompts",
    "PromptLike": "._request.types",
    "QuotaExhaustedError": "._errors",
    "RateLimitError": "._errors",
    "Reference": "._request.request",
    "ReferenceLike": "._request.reference",
    "RequestOptions": "._request.options",
    "ReferenceCountWarning": "._errors",
    "Result": "._result.result",
    "RetryPolicy": "._retry",
    "RunFailure": "._runs.manifest",
    "RunReport": "._runs.runner",
    "SafetyBlockedError": "._errors",
    "Search": "._request.options",
    "ServerError": "._errors",
    "Session": "._sessions.session",
    "SessionTooLargeError": "._errors",
    "SizeMismatchWarning": "._errors",
    "StickerSet": ".prompts",
    "Storyboard": ".prompts",
    "Stream": "._stream",
    "StreamEvent": "._core.stream",
    "StyleTransfer": ".prompts",
    "Template": ".prompts",
    "TextPart": "._result.result",
    "Turn": "._sessions.file",
    "UnknownModelWarning": "._errors",
    "Usage": "._result.usage",
    "lint": ".prompts",
}

#: Old names that still work, with a DeprecationWarning from their module, for one release.
_DEPRECATED = {"Source": "._result.grounding"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name in _DEPRECATED:
        return getattr(_importlib.import_module(_DEPRECATED[name], __name__), name)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nanobanana' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*globals(), *__all__]


if _TYPE_CHECKING:
    from ._batch.jobs import AsyncBatches as AsyncBatches
    from ._batch.jobs import AsyncBatchJob as AsyncBatchJob
    from ._batch.jobs import Batches as Batches
    from ._batch.jobs import BatchJob as BatchJob
    from ._batch.shards import BatchRunReport as BatchRunReport
    from ._client import AsyncNanoBanana as AsyncNanoBanana
    from ._client import NanoBanana as NanoBanana
    from ._core.stream import StreamEvent as StreamEvent
    from ._errors import APIConnectionError as APIConnectionError
    from ._errors import APIError as APIError
    from ._errors import APITimeoutError as APITimeoutError
    from ._errors import BadRequestError as BadRequestError
    from ._errors import BatchJobError as BatchJobError
    from ._errors import CorruptManifestError as CorruptManifestError
    from ._errors import FolderInUseError as FolderInUseError
    from ._errors import GenerationError as GenerationError
    from ._errors import ImageExpiredError as ImageExpiredError
    from ._errors import InvalidAPIKeyError as InvalidAPIKeyError
    from ._errors import InvalidReferenceError as InvalidReferenceError
    from ._errors import InvalidRequestError as InvalidRequestError
    from ._errors import InvalidResponseError as InvalidResponseError
    from ._errors import ManifestWriteError as ManifestWriteError
    from ._errors import MissingAPIKeyError as MissingAPIKeyError
    from ._errors import MissingImagesWarning as MissingImagesWarning
    from ._errors import ModelShutDownWarning as ModelShutDownWarning
    from ._errors import NanoBananaError as NanoBananaError
    from ._errors import NoImageError as NoImageError
    from ._errors import NotFoundError as NotFoundError
    from ._errors import PermissionDeniedError as PermissionDeniedError
    from ._errors import QuotaExhaustedError as QuotaExhaustedError
    from ._errors import RateLimitError as RateLimitError
    from ._errors import ReferenceCountWarning as ReferenceCountWarning
    from ._errors import SafetyBlockedError as SafetyBlockedError
    from ._errors import ServerError as ServerError
    from ._errors import SessionTooLargeError as SessionTooLargeError
    from ._errors import SizeMismatchWarning as SizeMismatchWarning
    from ._errors import UnknownModelWarning as UnknownModelWarning
    from ._images.generated import GeneratedImage as GeneratedImage
    from ._models.catalog import ModelSummary as ModelSummary
    from ._request.options import RequestOptions as RequestOptions
    from ._request.options import Search as Search
    from ._request.reference import ReferenceLike as ReferenceLike
    from ._request.request import AspectRatio as AspectRatio
    from ._request.request import GenerationRequest as GenerationRequest
    from ._request.request import ImageSize as ImageSize
    from ._request.request import Reference as Reference
    from ._request.types import ImageSource as ImageSource
    from ._request.types import PromptLike as PromptLike
    from ._result.grounding import Grounding as Grounding
    from ._result.grounding import GroundingSource as GroundingSource
    from ._result.result import Result as Result
    from ._result.result import TextPart as TextPart
    from ._result.usage import Usage as Usage
    from ._retry import RetryPolicy as RetryPolicy
    from ._runs.manifest import RunFailure as RunFailure
    from ._runs.runner import RunReport as RunReport
    from ._sessions.file import Turn as Turn
    from ._sessions.session import AsyncSession as AsyncSession
    from ._sessions.session import Session as Session
    from ._stream import AsyncStream as AsyncStream
    from ._stream import Stream as Stream
    from .prompts import CharacterFromPhoto as CharacterFromPhoto
    from .prompts import CharacterSheet as CharacterSheet
    from .prompts import LintIssue as LintIssue
    from .prompts import ProductShot as ProductShot
    from .prompts import Prompt as Prompt
    from .prompts import StickerSet as StickerSet
    from .prompts import Storyboard as Storyboard
    from .prompts import StyleTransfer as StyleTransfer
    from .prompts import Template as Template
    from .prompts import lint as lint
