"""Anthropic's published Messages request shape as pydantic models, strict like the real API.

Written from the API reference (Messages, Count tokens, Tool use, Extended thinking, Prompt caching):
unknown fields are refused, content blocks are discriminated by `type`, and the conversation rules
the API enforces are checked too (every `tool_use` answered by a `tool_result` in the next user turn
and no stray results, non-empty text blocks, thinking blocks only in assistant turns). The fake
Anthropic server answers 400 `invalid_request_error` with the validation message otherwise.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ToolName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,128}$")]
ToolId = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]+$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CacheControl(Strict):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class TextBlock(Strict):
    type: Literal["text"]
    text: NonEmpty
    cache_control: CacheControl | None = None
    citations: list[dict[str, Any]] | None = None


class Base64Source(Strict):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: NonEmpty


class UrlSource(Strict):
    type: Literal["url"]
    url: Annotated[str, StringConstraints(pattern=r"^https?://")]


class FileSource(Strict):
    type: Literal["file"]
    file_id: str


class ImageBlock(Strict):
    type: Literal["image"]
    source: Annotated[Base64Source | UrlSource | FileSource, Field(discriminator="type")]
    cache_control: CacheControl | None = None


class PdfSource(Strict):
    type: Literal["base64"]
    media_type: Literal["application/pdf"]
    data: NonEmpty


class PlainTextSource(Strict):
    type: Literal["text"]
    media_type: Literal["text/plain"]
    data: str


class DocumentBlock(Strict):
    type: Literal["document"]
    source: PdfSource | PlainTextSource | UrlSource | FileSource
    title: str | None = None
    context: str | None = None
    citations: dict[str, Any] | None = None
    cache_control: CacheControl | None = None


class ToolUseBlock(Strict):
    type: Literal["tool_use"]
    id: ToolId
    name: ToolName
    input: dict[str, Any]
    cache_control: CacheControl | None = None


class ToolResultBlock(Strict):
    type: Literal["tool_result"]
    tool_use_id: ToolId
    content: (
        str | list[Annotated[TextBlock | ImageBlock | DocumentBlock, Field(discriminator="type")]] | None
    ) = None
    is_error: bool | None = None
    cache_control: CacheControl | None = None


class ThinkingBlock(Strict):
    type: Literal["thinking"]
    thinking: str
    signature: NonEmpty


class RedactedThinkingBlock(Strict):
    type: Literal["redacted_thinking"]
    data: NonEmpty


Block = Annotated[
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class Message(Strict):
    role: Literal["user", "assistant"]
    content: NonEmpty | list[Block]

    def blocks(self) -> list[Any]:
        return [TextBlock(type="text", text=self.content)] if isinstance(self.content, str) else self.content


class InputSchema(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["object"]


class CustomTool(Strict):
    type: Literal["custom"] | None = None
    name: ToolName
    description: str | None = None
    input_schema: InputSchema
    cache_control: CacheControl | None = None
    strict: bool | None = None


class ServerTool(BaseModel):
    """Server tools (web search, code execution, ...) name a dated type; their fields vary."""

    model_config = ConfigDict(extra="allow")
    type: Annotated[str, StringConstraints(pattern=r"^[a-z_]+_\d{8}$")]
    name: str


class ToolChoiceAuto(Strict):
    type: Literal["auto"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(Strict):
    type: Literal["any"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(Strict):
    type: Literal["tool"]
    name: ToolName
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(Strict):
    type: Literal["none"]


ToolChoice = Annotated[
    ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone, Field(discriminator="type")
]


class ThinkingEnabled(Strict):
    type: Literal["enabled"]
    budget_tokens: Annotated[int, Field(ge=1024)]


class ThinkingDisabled(Strict):
    type: Literal["disabled"]


class ThinkingAdaptive(Strict):
    type: Literal["adaptive"]


Thinking = Annotated[ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive, Field(discriminator="type")]


class Metadata(Strict):
    user_id: str | None = None


class CountTokensRequest(Strict):
    model: NonEmpty
    messages: list[Message]
    system: NonEmpty | list[TextBlock] | None = None
    tools: list[CustomTool | ServerTool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    cache_control: CacheControl | None = None
    output_config: dict[str, Any] | None = None
    mcp_servers: list[dict[str, Any]] | None = None
    context_management: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _conversation(self) -> CountTokensRequest:
        check_conversation(self.messages)
        return self


class MessagesRequest(CountTokensRequest):
    max_tokens: Annotated[int, Field(ge=0)]
    metadata: Metadata | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    service_tier: Literal["auto", "standard_only"] | None = None
    container: str | dict[str, Any] | None = None
    inference_geo: str | None = None
    speed: Literal["standard", "fast"] | None = None


def check_conversation(messages: list[Message]) -> None:
    """The turn rules the API enforces beyond field types (its 400 messages, paraphrased)."""
    if not messages:
        raise ValueError("messages: at least one message is required")
    pending: set[str] = set()
    for index, message in enumerate(messages):
        blocks = message.blocks()
        if not blocks and index != len(messages) - 1:
            raise ValueError(f"messages.{index}: all messages must have non-empty content")
        results = {b.tool_use_id for b in blocks if isinstance(b, ToolResultBlock)}
        if message.role == "assistant":
            if pending:
                raise ValueError(
                    f"messages.{index}: tool_use ids {sorted(pending)} were not answered by tool_result"
                )
            if results:
                raise ValueError(f"messages.{index}: tool_result blocks belong in user messages")
            pending = {b.id for b in blocks if isinstance(b, ToolUseBlock)}
            continue
        if any(isinstance(b, ThinkingBlock | RedactedThinkingBlock | ToolUseBlock) for b in blocks):
            raise ValueError(f"messages.{index}: thinking and tool_use blocks belong in assistant messages")
        if results - pending:
            raise ValueError(
                f"messages.{index}: unexpected tool_use_id in tool_result blocks: {sorted(results - pending)}"
            )
        if pending - results:
            raise ValueError(
                f"messages.{index}: tool_use ids {sorted(pending - results)} have no tool_result"
            )
        kinds = [isinstance(b, ToolResultBlock) for b in blocks]
        if results and kinds != sorted(kinds, reverse=True):
            raise ValueError(f"messages.{index}: tool_result blocks must come first in the content")
        pending = set()
