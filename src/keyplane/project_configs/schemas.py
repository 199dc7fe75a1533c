"""Project config inputs, strictly typed: "true" is not a boolean and "5" is not a token count."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

PREFERENCES = ("speed", "cost", "balanced")
MAX_TOKENS_CAP = 2**31 - 1
MAX_ALLOWED_PROVIDERS = 200

# What a workspace gets before anyone changes it: every provider allowed, no output cap.
DEFAULT_INFERENCE_CONFIG: dict[str, Any] = {
    "allowed_providers": [],
    "eu_native": False,
    "allow_quantization": True,
    "allow_zero_data_retention": False,
    "enable_model_fallback": True,
    "preference": "balanced",
    "max_tokens": None,
}
# Fields that may be set to null; every other field sent as null is refused.
NULLABLE_FIELDS = frozenset({"preference", "max_tokens"})


class InferenceConfigUpdate(BaseModel):
    """Fields sent are applied over the current config; fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    allowed_providers: list[StrictStr] | None = Field(default=None, max_length=MAX_ALLOWED_PROVIDERS)
    eu_native: StrictBool | None = None
    allow_quantization: StrictBool | None = None
    allow_zero_data_retention: StrictBool | None = None
    enable_model_fallback: StrictBool | None = None
    preference: Literal["speed", "cost", "balanced"] | None = None
    max_tokens: StrictInt | None = Field(default=None, ge=1, le=MAX_TOKENS_CAP)

    def sent_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


def _check_timestamp(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError("must be an ISO 8601 date-time such as 2025-09-25T08:29:50.735Z") from exc
    return value


class ProjectConfigUpdate(BaseModel):
    """Cortecs's ProjectConfigUpdateRequest; created_at/updated_at are required but owned by the server."""

    model_config = ConfigDict(extra="ignore")

    inference_config: InferenceConfigUpdate
    allow_overwrite: StrictBool | None = None
    created_at: StrictStr = Field(max_length=64)
    updated_at: StrictStr = Field(max_length=64)

    @field_validator("created_at", "updated_at")
    @classmethod
    def _iso_timestamp(cls, value: str) -> str:
        return _check_timestamp(value)
