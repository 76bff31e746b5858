"""An OpenAI-compatible stub server: the subset of the Responses API that P2N uses, over real HTTP.

``POST /v1/responses`` answers with the next scripted ``Reply``, streamed as server-sent events
(``response.created``, ``response.output_text.delta``..., ``response.completed`` with usage) or as
one JSON body; function calls and HTTP errors can be scripted too. Requests are recorded.
"""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import dataclass, field
from typing import Any

STUB_API_KEY = "sk-test-stub-0123456789"


@dataclass
class Reply:
    """One scripted answer: text (split into deltas), function calls, or an HTTP error."""

    text: str | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    total_tokens: int = 100
    status: int = 200
    chunks: int = 3


class OpenAIStub:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""

    def reset(self) -> None:
        with self.lock:
            self.replies.clear()
            self.requests.clear()

    def queue(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def next_reply(self, request: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append(request)
            if not self.replies:
                return Reply(status=500, text="no scripted reply left")
            return self.replies.pop(0)


def _response_object(number: int, reply: Reply, model: str) -> dict[str, Any]:
    if reply.calls:
        output: list[dict[str, Any]] = [
            {
                "type": "function_call",
                "id": f"fc_{number}_{i}",
                "call_id": f"call_{number}_{i}",
                "name": name,
                "arguments": json.dumps(args),
                "status": "completed",
            }
            for i, (name, args) in enumerate(reply.calls)
        ]
    else:
        output = [
            {
                "type": "message",
                "id": f"msg_{number}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": reply.text or "", "annotations": []}],
            }
        ]
    return {
        "id": f"resp_{number}",
        "object": "response",
        "created_at": 1_700_000_000,
        "model": model,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": reply.total_tokens // 2,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": reply.total_tokens - reply.total_tokens // 2,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": reply.total_tokens,
        },
    }


class StubHandler(http.server.BaseHTTPRequestHandler):
    stub: OpenAIStub

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.headers.get("authorization") != f"Bearer {STUB_API_KEY}":
            self._json(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
            return
        if self.path.rstrip("/") != "/v1/responses":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        reply = self.stub.next_reply(body)
        if reply.status != 200:
            self._json(reply.status, {"error": {"message": reply.text or "error", "type": "server_error"}})
            return
        number = len(self.stub.requests)
        final = _response_object(number, reply, body.get("model", "stub"))
        if not body.get("stream"):
            self._json(200, final)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        seq = 0

        def send(event: dict[str, Any]) -> None:
            nonlocal seq
            event["sequence_number"] = seq
            seq += 1
            frame = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
            self.wfile.write(frame.encode())
            self.wfile.flush()

        send({"type": "response.created", "response": {**final, "status": "in_progress", "output": []}})
        if reply.text is not None and not reply.calls:
            text = reply.text
            size = max(1, -(-len(text) // reply.chunks))
            for start in range(0, len(text), size):
                send(
                    {
                        "type": "response.output_text.delta",
                        "item_id": f"msg_{number}",
                        "output_index": 0,
                        "content_index": 0,
                        "delta": text[start : start + size],
                        "logprobs": [],
                    }
                )
        send({"type": "response.completed", "response": final})
        self.close_connection = True

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
