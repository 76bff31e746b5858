"""LLM providers behind the pipeline: ``offline`` (rules and templates, the default) and ``openai``.

The pipeline stages (claim extraction, planning, the storybook) each have both providers and ask
this module which one applies: ``auto`` means openai when a key is configured, offline otherwise.
The openai SDK is imported only by ``p2n.llm.openai_client``, lazily, so offline use never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from p2n import events, resources
from p2n.settings import Settings

if TYPE_CHECKING:
    from p2n.llm import openai_client

Resolved = Literal["offline", "openai"]
TokenCallback = Callable[[events.Token], None]
ToolHandler = Callable[[str, dict[str, Any]], str]


class Caps(BaseModel):
    """Limits for one paper's LLM work, shared by every call made for it."""

    max_tokens: int = Field(ge=1)
    max_tool_calls: int = Field(ge=0)


class Tool(BaseModel):
    """A function the model may call; ``parameters`` is its JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


def choose(provider: resources.Provider, settings: Settings) -> Resolved:
    """The provider that will actually run: an explicit choice, or openai only when a key is set."""
    if provider == "auto":
        return "openai" if settings.openai_api_key is not None else "offline"
    return provider


def structured_client(
    settings: Settings, *, caps: Caps, model: str | None = None, on_token: TokenCallback | None = None
) -> openai_client.StructuredClient:
    """An OpenAI client for one paper's work; the SDK is loaded here, on first use only."""
    from p2n.llm import openai_client

    return openai_client.StructuredClient(settings, caps=caps, model=model, on_token=on_token)
