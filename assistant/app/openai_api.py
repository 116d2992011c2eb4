"""The OpenAI chat API on `assistant serve`: `POST /v1/chat/completions` and `GET /v1/models`.

Desktop and web chat clients (Cherry Studio, ChatBox, Open WebUI, LobeChat) speak this API, so
they can use the assistant with no code of their own. The routes are a thin shell over
`Assistant.ask`/`stream`: the last user message is the question, the user/assistant turns before
it the history. The reply is `reply_text(answer)`, so a client that shows only text still shows
the sources; the structured citations ride beside `choices` in `citations`, as in `/api/ask`.
Login, the body limit and the concurrency limit are api.py's; every error under /v1 has
OpenAI's shape (`error_body`), so the official SDKs raise their usual exceptions.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime
from functools import partial
from typing import AsyncIterator, Literal

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.answer.reply import reply_text, strip_sources
from assistant.answer_models import Answer
from assistant.errors import UserError

log = logging.getLogger(__name__)

PREFIX = "/v1"
EXAMPLE = '{"model": "...", "messages": [{"role": "user", "content": "..."}]}'
SUPERSEDED = "（以上是生成中的内容，已作废；最终回答如下）"
_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def is_openai_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    """OpenAI's error object, which its SDKs turn into `BadRequestError`, `AuthenticationError`, …"""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class APIError(Exception):
    """A refusal with OpenAI's `param` and `code` (an unknown model, an unknown endpoint)."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)  # name, tool_calls … are accepted, unused

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    text: str = Field("", validation_alias="content")

    @field_validator("text", mode="before")
    @classmethod
    def _content_text(cls, content: object) -> str:
        """`content` as text: a string, or the text of a list of parts (images add nothing to a question)."""
        if content is None or isinstance(content, str):
            return content or ""
        if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in content):
            return "".join(str(p.get("text", "")) for p in content if p["type"] == "text")
        raise ValueError('must be a string or a list of parts like {"type": "text", "text": "..."}')


class ChatRequest(BaseModel):
    # temperature, max_tokens, top_p … are accepted and ignored: answers are quoted, not sampled
    model_config = ConfigDict(extra="ignore", strict=True)

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False


def conversation(messages: list[ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """(question, history): the last user message, and each earlier user message paired with the
    assistant reply that followed it (its 来源 list stripped). System prompts are not questions."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        raise UserError("messages has no user message; the last user message is the question")
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for message in messages[: users[-1]]:
        if message.role == "user":
            if pending is not None:
                history.append((pending, ""))
            pending = message.text
        elif message.role == "assistant" and pending is not None:
            history.append((pending, strip_sources(message.text)))
            pending = None
    if pending is not None:
        history.append((pending, ""))
    return messages[users[-1]].text, history


def continuation(shown: str, full: str) -> str:
    """What a stream sends after the deltas `shown` so the client ends up with `full`; when the
    final answer superseded them (a model that failed or declined), a note and the whole reply."""
    if full.startswith(shown.strip()):
        return full[len(shown.strip()) :]
    return f"\n\n{SUPERSEDED}\n\n{full}"


def _extra(answer: Answer) -> dict:
    return {"answerable": answer.answerable, "citations": [c.model_dump(mode="json") for c in answer.citations]}


def _created(built_at: str) -> int:
    try:
        return int(datetime.fromisoformat(built_at).timestamp())
    except (TypeError, ValueError):
        return 0


def install(app: FastAPI, assistant, model: str, limiter: anyio.CapacityLimiter) -> None:
    """Add the /v1 routes (before the UI is mounted at /, which would catch them) and their error handler."""
    router = APIRouter(prefix=PREFIX)

    def card() -> dict:
        built = _created(assistant.index.manifest.built_at)
        return {"id": model, "object": "model", "created": built, "owned_by": "assistant"}

    def served(name: str) -> None:
        if name != model:
            raise APIError(404, f"model {name!r} does not exist; this server serves {model!r}", "model", "model_not_found")

    @router.get("/models")
    async def models() -> dict:
        return {"object": "list", "data": [card()]}

    @router.get("/models/{name:path}")
    async def one_model(name: str) -> dict:
        served(name)
        return card()

    @router.post("/chat/completions")
    async def chat(request: ChatRequest):
        served(request.model)
        question, history = conversation(request.messages)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model}
        if request.stream:
            events = assistant.stream(question, history)  # bad input raises here, before any byte is sent
            return StreamingResponse(
                _sse(events, meta, limiter),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
            )
        answer = await anyio.to_thread.run_sync(partial(assistant.ask, question, history=history), limiter=limiter)
        message = {"role": "assistant", "content": reply_text(answer)}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return JSONResponse({**meta, "object": "chat.completion", "choices": [choice], **_extra(answer)})

    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(request: Request):
        raise APIError(
            404, f"no endpoint {request.method} {request.url.path}; this server has GET {PREFIX}/models and "
            f"POST {PREFIX}/chat/completions", code="unknown_url",
        )

    @app.exception_handler(APIError)
    async def refused(_request, exc: APIError):
        return JSONResponse(error_body(exc.status, exc.message, exc.param, exc.code), status_code=exc.status)

    app.include_router(router)


async def _sse(events, meta: dict, limiter: anyio.CapacityLimiter) -> AsyncIterator[str]:
    """OpenAI's chunk stream: the role, the text deltas, the rest of the reply and the citations
    with `finish_reason`, then `[DONE]`. One question holds one place of the limiter throughout."""

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        body = {**meta, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    borrower = object()  # released by whichever task ends the stream (a client may hang up)
    await limiter.acquire_on_behalf_of(borrower)
    try:
        yield chunk({"role": "assistant", "content": ""})
        shown: list[str] = []
        try:
            while not isinstance(event := await anyio.to_thread.run_sync(next, events), Answer):
                shown.append(event)
                yield chunk({"content": event})
        except Exception:  # the status line is sent: the failure goes in the stream, in OpenAI's shape
            log.exception("a streamed answer failed")
            yield f"data: {json.dumps(error_body(500, 'internal error; see the server log'))}\n\n"
        else:
            if tail := continuation("".join(shown), reply_text(event)):
                yield chunk({"content": tail})
            yield chunk({}, "stop", **_extra(event))
        yield "data: [DONE]\n\n"
    finally:
        limiter.release_on_behalf_of(borrower)
