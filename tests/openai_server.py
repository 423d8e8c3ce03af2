"""A small OpenAI-compatible server on 127.0.0.1 for testing the real `openai` client path.

It serves /v1/chat/completions (JSON, or SSE chunks ending with `data: [DONE]`) and /v1/embeddings, records
every request, and plays scripted faults: an HTTP status with headers, a stall before the response or
mid-stream, and a stream dropped without its end.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a timeout, a dropped stream) is expected here, not an error to print."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


@dataclass
class Reply:
    """One scripted response."""

    text: str = "好的[1]。"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error_message: str = "error"
    stall: float = 0.0  # seconds to wait before answering
    stall_after: int = -1  # stream: stall `stream_stall` seconds after sending this many pieces
    stream_stall: float = 30.0
    drop_after: int = -1  # stream: close the connection after this many pieces, without an end
    piece: int = 4  # characters per streamed piece
    usage: bool = True
    cached_tokens: int | None = None  # prompt tokens the server says it served from its cache


@dataclass
class Recorded:
    """A request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeOpenAIServer:
    """Serve scripted replies; `replies` is consumed in order, then `default` answers."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.default = Reply()
        self.requests: list[Recorded] = []
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                server.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path.endswith("/embeddings"):
                    self._embeddings(body)
                elif self.path.endswith("/chat/completions"):
                    reply = server.replies.pop(0) if server.replies else server.default
                    self._chat(body, reply)
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(obj, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _embeddings(self, body: dict[str, Any]) -> None:
                inputs = body.get("input") or []
                inputs = [inputs] if isinstance(inputs, str) else inputs
                dim = int(body.get("dimensions") or 8)
                data = []
                for i, text in enumerate(inputs):
                    digest = hashlib.sha256(str(text).encode()).digest()
                    data.append({"object": "embedding", "index": i,
                                 "embedding": [(digest[j % 32] - 128) / 128 for j in range(dim)]})
                self._json(200, {"object": "list", "data": data, "model": body.get("model", "fake"),
                                 "usage": {"prompt_tokens": 1, "total_tokens": 1}})

            def _chat(self, body: dict[str, Any], reply: Reply) -> None:
                if reply.stall and server._stop.wait(reply.stall):
                    return
                if reply.status != 200:
                    self._json(reply.status, {"error": {"message": reply.error_message, "type": "error",
                                                        "code": reply.status}}, reply.headers)
                    return
                model = body.get("model", "fake")
                if not body.get("stream"):
                    self._json(200, {
                        "id": "cmpl-1", "object": "chat.completion", "created": int(time.time()), "model": model,
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply.text}}],
                        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                    }, reply.headers)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                pieces = [reply.text[i:i + reply.piece] for i in range(0, len(reply.text), reply.piece)]
                for n, piece in enumerate(pieces):
                    if n == reply.drop_after:
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.close()
                        return
                    if n == reply.stall_after and server._stop.wait(reply.stream_stall):
                        return
                    self._event({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                                 "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                self._event({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
                    self._event({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                                 "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": len(pieces),
                                                          "total_tokens": 11 + len(pieces),
                                                          **({"prompt_tokens_details":
                                                              {"cached_tokens": reply.cached_tokens}}
                                                             if reply.cached_tokens is not None else {})}})
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")

            def _event(self, obj: Any) -> None:
                self._chunk(f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode())

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ending in /v1."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def chat_requests(self) -> list[Recorded]:
        """The recorded chat-completion requests."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> FakeOpenAIServer:
        """Start serving in a background thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Wake stalled handlers and shut the server down."""
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def running_server() -> Iterator[FakeOpenAIServer]:
    """A started server, stopped on exit."""
    server = FakeOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()
