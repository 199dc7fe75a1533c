"""The gateway's operations for /openapi.json: the raw ASGI layer has no FastAPI routes to document.

Request and answer models stay permissive where OpenAI's are (extra fields pass through to and from
the provider); the model list is keyplane's own and exact. Errors are OpenAI's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from keyplane.surfaces.error_models import DESCRIPTIONS, ERROR_MODELS, UNKNOWN_ERROR
from keyplane.surfaces.error_shapes import surface_for_path
from keyplane.surfaces.gateway.asgi import CHAT, COUNT_TOKENS, EMBEDDINGS, MESSAGES, MODELS, ROUTES

Message = dict[str, Any]


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat request; keyplane checks these fields and forwards every other one untouched."""

    model_config = ConfigDict(extra="allow")

    model: Annotated[str, Field(min_length=1, max_length=200)]
    messages: Annotated[list[Message], Field(min_length=1)]
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    provider: dict[str, Any] | None = Field(
        default=None, description="Routing overrides (OpenRouter's provider object), where allowed."
    )


class ChatCompletion(BaseModel):
    """The provider's answer, relayed as it came (a JSON object, OpenAI's chat.completion)."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: Annotated[str, Field(min_length=1, max_length=200)]
    input: str | Annotated[list[Any], Field(min_length=1)]


class Embeddings(BaseModel):
    """The provider's answer, relayed as it came (OpenAI's embeddings list)."""

    model_config = ConfigDict(extra="allow")

    object: str | None = None
    data: list[dict[str, Any]] | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None


class StreamEvent(BaseModel):
    """One server-sent event of a streamed answer."""

    data: str = Field(description="A chat.completion.chunk as JSON; the last event is [DONE]")
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class GatewayModel(BaseModel):
    id: str
    object: str
    created: int
    owned_by: str


class GatewayModelList(BaseModel):
    """The models this key may call."""

    object: str
    data: list[GatewayModel]


class MessagesRequest(BaseModel):
    """Anthropic's Messages request: passed through as sent (every field kept)."""

    model_config = ConfigDict(extra="allow")

    model: str
    max_tokens: int
    messages: list[Message]


class CountTokensRequest(BaseModel):
    """Anthropic's token-count request: the Messages request without `max_tokens`."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[Message]


class MessageAnswer(BaseModel):
    """Anthropic's Message object, as the provider (or the translation) answers it."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    role: str
    content: list[Message]
    model: str


class TokenCount(BaseModel):
    input_tokens: int


@dataclass(frozen=True)
class Operation:
    summary: str
    request: type[BaseModel] | None
    answer: type[BaseModel]
    errors: tuple[int, ...]
    streams: bool = False
    relays_refusals: bool = False


SEND_ERRORS = (400, 401, 402, 403, 404, 413, 429, 501, 502, 503, 504, 508)
OPERATIONS: dict[str, Operation] = {
    CHAT: Operation(
        "Chat completion through the key's routes",
        ChatCompletionRequest,
        ChatCompletion,
        SEND_ERRORS,
        streams=True,
        relays_refusals=True,
    ),
    EMBEDDINGS: Operation(
        "Embeddings through the key's routes",
        EmbeddingsRequest,
        Embeddings,
        SEND_ERRORS,
        relays_refusals=True,
    ),
    MODELS: Operation("The models this key may call", None, GatewayModelList, (401, 403, 413, 503, 508)),
    MESSAGES: Operation(
        "Anthropic Messages through the key's routes",
        MessagesRequest,
        MessageAnswer,
        SEND_ERRORS,
        streams=True,
        relays_refusals=True,
    ),
    COUNT_TOKENS: Operation(
        "Anthropic token count (nothing is billed)",
        CountTokensRequest,
        TokenCount,
        SEND_ERRORS,
        relays_refusals=True,
    ),
}


def gateway_openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) for every gateway route, to merge into the app's document."""
    components: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, Any] = {}
    for path, (method, name) in ROUTES.items():
        operation = OPERATIONS.get(name)
        if operation is None:  # a new gateway route without models: tests/surfaces fail on it
            continue
        model = ERROR_MODELS.get(surface_for_path(path))
        error = {"application/json": {"schema": ref(model) if model is not None else UNKNOWN_ERROR}}
        content: dict[str, Any] = {"application/json": {"schema": ref(operation.answer)}}
        if operation.streams:
            content["text/event-stream"] = {"schema": ref(StreamEvent)}
        responses: dict[str, Any] = {"200": {"description": operation.summary, "content": content}}
        for status in operation.errors:
            responses[str(status)] = {"description": DESCRIPTIONS[status], "content": error}
        if operation.relays_refusals:
            responses["4XX"] = {
                "description": "The provider's own refusal, its status kept",
                "content": error,
            }
        item: dict[str, Any] = {
            "tags": ["gateway"],
            "summary": operation.summary,
            "operationId": f"gateway_{name.replace('/', '_')}_{path.strip('/').split('/')[0]}",
            "security": [{"bearer": []}],
            "responses": responses,
        }
        if operation.request is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(operation.request)}},
            }
        paths[path] = {method.lower(): item}
    return paths, components
