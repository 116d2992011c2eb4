"""A scripted chat server on 127.0.0.1 for end-to-end tests of LLM mode.

Real HTTP: `POST /v1/chat/completions` (OpenAI-compatible) answers as plain JSON or, with
`"stream": true`, as server-sent events in small chunks, the way vLLM, Ollama and DeepSeek do;
`POST /api/chat` (Ollama's own API, what ChatOllama calls) as JSON or newline-delimited JSON
chunks. What it says comes
from `reply(request) -> str`; `delay` makes it slow, `status` makes it fail and `chunk_pause`
spaces out the streamed chunks so a browser can see them arrive.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (the timeout tests) closes the socket mid-reply; that is expected."""


class FakeOpenAI:
    def __init__(
        self, reply: Callable[[dict], str], delay: float = 0.0, status: int = 200, chunk_chars: int = 3,
        chunk_pause: float = 0.0,
    ):
        self.reply = reply
        self.delay = delay
        self.status = status
        self.chunk_chars = chunk_chars
        self.chunk_pause = chunk_pause
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())

    @property
    def root(self) -> str:
        """The base URL an Ollama client is given."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The base URL an OpenAI-compatible client is given."""
        return f"{self.root}/v1"

    def __enter__(self) -> "FakeOpenAI":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path not in ("/v1/chat/completions", "/api/chat"):
                    return self._json(404, {"error": {"message": "not found"}})
                time.sleep(fake.delay)
                if fake.status != 200:
                    return self._json(fake.status, {"error": {"message": "scripted failure", "type": "server_error"}})
                text = fake.reply(body)
                if self.path == "/api/chat":
                    return self._ollama(body, text)
                if body.get("stream"):
                    return self._sse(body, text)
                self._json(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", ""),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })

            def _json(self, status: int, data: dict) -> None:
                raw = json.dumps(data, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _sse(self, body: dict, text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                pieces = [text[i : i + fake.chunk_chars] for i in range(0, len(text), fake.chunk_chars)]
                deltas = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces]
                for i, delta in enumerate(deltas + [{}]):
                    chunk = {
                        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": body.get("model", ""),
                        "choices": [{"index": 0, "delta": delta, "finish_reason": None if i < len(deltas) else "stop"}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(fake.chunk_pause)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _ollama(self, body: dict, text: str) -> None:
                def part(content: str, done: bool) -> dict:
                    message = {"model": body.get("model", ""), "created_at": "2026-01-01T00:00:00Z",
                               "message": {"role": "assistant", "content": content}, "done": done}
                    return {**message, "done_reason": "stop", "eval_count": 1} if done else message

                if not body.get("stream", True):
                    return self._json(200, part(text, True))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                pieces = [text[i : i + fake.chunk_chars] for i in range(0, len(text), fake.chunk_chars)]
                for content, done in [(p, False) for p in pieces] + [("", True)]:
                    self.wfile.write(json.dumps(part(content, done), ensure_ascii=False).encode() + b"\n")
                    self.wfile.flush()
                    time.sleep(fake.chunk_pause)

        return Handler


def passages_of(request: dict) -> dict[int, str]:
    """The numbered passages in the prompt the assistant sent: {n: text}."""
    prompt = request["messages"][-1]["content"]
    blocks = re.findall(r"^\[(\d+)\][^\n]*\n(.*?)(?=\n\n\[\d+\]|\n\n问题：)", prompt, flags=re.S | re.M)
    return {int(n): text for n, text in blocks}


def question_of(request: dict) -> str:
    prompt = request["messages"][-1]["content"]
    return prompt.rsplit("问题：", 1)[-1].strip()


def quote_first_passage(request: dict) -> str:
    """A stand-in model that answers with the first sentence of passage [1], cited."""
    first = passages_of(request).get(1, "")
    sentence = re.split(r"(?<=[。；！？])", first.strip(), maxsplit=1)[0]
    return f"{sentence.rstrip('。；')}[1]。" if sentence else "【无答案】资料中没有相关内容"
