"""The one module that imports the ``openai`` SDK: structured outputs over the Responses API.

``StructuredClient.complete`` sends instructions and a prompt, streams the answer (each text delta
becomes a ``token`` event for the caller), answers the model's function calls with the caller's
tool handler, and validates the final text against a pydantic model. It enforces the per-paper
caps: total tokens reported by the API and the number of tool calls; crossing either raises
``E_CAP_EXCEEDED`` and logs the trace label ``policy.cap.exceeded``. Output that is not valid JSON
for the schema raises ``E_LLM``: a malformed answer is never half-used.

Every ``openai`` exception is translated here into ``errors.LlmError``; nothing above this module
sees a vendor type. The API key is a ``SecretStr`` and never logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

import openai
import pydantic
from pydantic import BaseModel

from p2n import errors, events, llm, telemetry
from p2n.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
_TIMEOUT_SECONDS = 120.0


class StructuredClient:
    """Structured completions for one paper, with its token and tool-call budget."""

    def __init__(
        self,
        settings: Settings,
        *,
        caps: llm.Caps,
        model: str | None = None,
        on_token: llm.TokenCallback | None = None,
    ) -> None:
        if settings.openai_api_key is None:
            raise errors.LlmError("the openai provider needs P2N_OPENAI_API_KEY (or OPENAI_API_KEY)")
        self._client = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=_TIMEOUT_SECONDS,
            max_retries=1,
        )
        self.model = model or settings.openai_model
        self.caps = caps
        self.tokens_used = 0
        self.tool_calls = 0
        self._on_token = on_token
        self._token_seq = 0

    def complete(
        self,
        *,
        instructions: str,
        prompt: str,
        schema: type[T],
        schema_name: str,
        tools: list[llm.Tool] | None = None,
        tool_handler: llm.ToolHandler | None = None,
    ) -> T:
        """Ask for an answer shaped like ``schema``; calls tools as the model asks, within the caps."""
        conversation: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        text_format = {
            "format": {
                "type": "json_schema",
                "name": schema_name,
                "schema": schema.model_json_schema(),
                "strict": False,
            }
        }
        tool_specs = [
            {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
            for t in tools or []
        ]
        while True:
            response = self._stream(instructions, conversation, text_format, tool_specs)
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls:
                return _validated(schema, response.output_text)
            self.tool_calls += len(calls)
            self._check_caps()
            if tool_handler is None:
                raise errors.LlmError("the model called a tool but none is offered")
            for call in calls:
                conversation.append(
                    {
                        "type": "function_call",
                        "call_id": call.call_id,
                        "name": call.name,
                        "arguments": call.arguments,
                    }
                )
                conversation.append(
                    {
                        "type": "function_call_output",
                        "call_id": call.call_id,
                        "output": tool_handler(call.name, _arguments(call.arguments)),
                    }
                )

    def _stream(
        self,
        instructions: str,
        conversation: list[dict[str, Any]],
        text_format: dict[str, Any],
        tool_specs: list[dict[str, Any]],
    ) -> Any:
        remaining = self.caps.max_tokens - self.tokens_used
        final: Any = None
        try:
            # The SDK's overloads want its TypedDicts; these plain dicts have the same shape.
            stream = self._client.responses.create(  # type: ignore[call-overload]
                model=self.model,
                instructions=instructions,
                input=conversation,
                text=text_format,
                tools=tool_specs,
                max_output_tokens=max(remaining, 16),
                stream=True,
            )
            for event in stream:
                if event.type == "response.output_text.delta":
                    self._token(event.delta)
                elif event.type in ("response.completed", "response.incomplete"):
                    final = event.response
                elif event.type == "response.failed":
                    raise errors.LlmError(f"the model run failed: {_error_text(event.response)}")
                elif event.type == "error":
                    raise errors.LlmError(f"the model stream reported an error: {event.message}")
        except openai.APIStatusError as exc:
            raise errors.LlmError(f"OpenAI API error {exc.status_code}: {_status_message(exc)}") from exc
        except openai.APIError as exc:
            raise errors.LlmError(f"OpenAI API unreachable or failed: {type(exc).__name__}") from exc
        if final is None:
            raise errors.LlmError("the model stream ended without a final response")
        usage = getattr(final, "usage", None)
        self.tokens_used += int(getattr(usage, "total_tokens", 0) or 0)
        self._check_caps()
        if final.status == "incomplete":
            raise errors.LlmError("the model's answer was cut off (incomplete response)")
        return final

    def _token(self, text: str) -> None:
        if self._on_token is None:
            return
        self._on_token(events.Token(seq=self._token_seq, data=events.TokenData(text=text)))
        self._token_seq += 1

    def _check_caps(self) -> None:
        over: list[str] = []
        if self.tokens_used > self.caps.max_tokens:
            over.append(f"{self.tokens_used} tokens > cap {self.caps.max_tokens}")
        if self.tool_calls > self.caps.max_tool_calls:
            over.append(f"{self.tool_calls} tool calls > cap {self.caps.max_tool_calls}")
        if not over:
            return
        details: dict[str, str | int] = {
            "trace_label": errors.CAP_EXCEEDED_TRACE_LABEL,
            "tokens_used": self.tokens_used,
            "max_tokens": self.caps.max_tokens,
            "tool_calls": self.tool_calls,
            "max_tool_calls": self.caps.max_tool_calls,
        }
        log.warning(
            "LLM cap exceeded: %s", "; ".join(over), extra={"trace_label": errors.CAP_EXCEEDED_TRACE_LABEL}
        )
        telemetry.event(errors.CAP_EXCEEDED_TRACE_LABEL, details)
        raise errors.CapExceeded(f"LLM cap exceeded: {'; '.join(over)}", details=details)


def _validated(schema: type[T], text: str) -> T:
    try:
        return schema.model_validate_json(text)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise errors.LlmError(
            f"the model's output does not match the {schema.__name__} schema at {where or 'top level'}: "
            f"{first.get('msg', 'invalid')}"
        ) from exc


def _arguments(raw: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except ValueError as exc:
        raise errors.LlmError("the model called a tool with arguments that are not JSON") from exc
    if not isinstance(parsed, dict):
        raise errors.LlmError("the model called a tool with arguments that are not an object")
    return parsed


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)[:300]
    return exc.message[:300]


def _error_text(response: Any) -> str:
    error = getattr(response, "error", None)
    return str(getattr(error, "message", None) or "unknown error")[:300]
