"""The HTTP server: `POST /api/ask`, `GET /api/health`, the OpenAI chat API under `/v1`
(assistant.app.openai_api) and the chat UI mounted at `/`.

`/api/ask` returns exactly `Answer.model_dump()`, the JSON of `assistant ask --json`. Every
bad request is a 4xx `{"error": "..."}` (under /v1, OpenAI's error object); nothing answers
with a traceback. Two small ASGI layers guard everything, UI included: a request-body size
limit and, when `Settings.auth` or `Settings.api_keys` is set, a login: HTTP Basic (browsers
prompt for it; `curl -u user:pass` works) or a bearer API key (what OpenAI clients send).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import socket
from functools import partial
from typing import Annotated

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.app.openai_api import EXAMPLE as OPENAI_EXAMPLE
from assistant.app.openai_api import error_body, install, is_openai_path
from assistant.errors import UserError
from assistant.settings import Settings

log = logging.getLogger(__name__)
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    question: str
    history: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = []


def parse_auth(raw: str) -> list[tuple[str, str]]:
    """`user:pass[,user2:pass2]` → pairs; a malformed value is a settings error, not an open door."""
    pairs = []
    for item in raw.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise UserError('ASSISTANT_AUTH must look like "user:pass[,user2:pass2]"')
        pairs.append((user, password))
    return pairs


def parse_api_keys(raw: str) -> list[str]:
    """`key[,key2]` → keys; an empty or spaced key is a settings error (it could never be sent)."""
    keys = [key.strip() for key in raw.split(",")]
    if not all(keys) or any(ch.isspace() for key in keys for ch in key):
        raise UserError('ASSISTANT_API_KEYS must look like "key[,key2]" with no spaces inside a key')
    return keys


def error_payload(path: str, status: int, message: str, param: str | None = None) -> dict:
    """The error JSON for a path: OpenAI's object under /v1 (its clients parse it), else `{"error": message}`."""
    return error_body(status, message, param) if is_openai_path(path) else {"error": message}


async def _send_json(send: Send, status: int, payload: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": body})


NOT_TEXT = "request holds a lone surrogate (\\ud800-\\udfff), which is not text; send UTF-8 text"


def _lone_surrogate(body: bytes) -> bool:
    """Whether a JSON body holds a lone surrogate, escaped or as raw bytes: valid JSON but not
    text, which Gradio's routes pass on until serialising fails (a 500 and a traceback)."""
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        pass  # not JSON: the route refuses it on its own
    return False


class BodyLimit:
    """Refuse request bodies over `limit` bytes (declared or actually sent) with 413, and bodies
    for Gradio's routes that hold a lone surrogate with 400, before the app runs."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = error_payload(scope["path"], 413, f"request body is larger than {self.limit} bytes")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await _send_json(send, 413, too_big)
        if declared is None and scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await _send_json(send, 413, too_big)
        if scope["path"].startswith("/gradio_api/") and _lone_surrogate(body):
            return await _send_json(send, 400, {"error": NOT_TEXT})
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class PageLanguage:
    """Serve every HTML page in one language whatever the browser's: `<html lang>` set, and
    `navigator.language` pinned by a script that runs before Gradio's, which picks its locale
    (its labels, and the `lang` it sets) from the browser (an English browser got `lang="en"`)."""

    _HTML_LANG = re.compile(rb'(<html\b[^>]*?\blang=")[^"]*(")', re.IGNORECASE)

    def __init__(self, app: ASGIApp, lang: str) -> None:
        self.app, self.lang = app, lang
        self.pin = (
            '<script>(() => { const pinned = {language: %s, languages: [%s]};'
            " for (const [name, value] of Object.entries(pinned))"
            " Object.defineProperty(Navigator.prototype, name, {get: () => value, configurable: true}); })();</script>"
            % (json.dumps(lang), json.dumps(lang))
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        start: Message | None = None
        body = b""

        async def rewrite(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                if not dict(message.get("headers", [])).get(b"content-type", b"").startswith(b"text/html"):
                    return await send(message)
                start = message
                return None
            if start is None:
                return await send(message)
            body += message.get("body", b"")
            if message.get("more_body", False):
                return None
            page = self._HTML_LANG.sub(rb"\g<1>" + self.lang.encode() + rb"\g<2>", body, count=1)
            page = page.replace(b"<head>", b"<head>" + self.pin, 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, rewrite)


class Login:
    """HTTP Basic login (`ASSISTANT_AUTH`) or a bearer API key (`ASSISTANT_API_KEYS`) in front of
    every path (UI, its websocket-free queue, and the APIs): either credential opens all of it.
    Who came in is kept in the request's state as `login` (the user's name, or `api-key-<n>`):
    `login_of` hands it to Gradio, whose events see it as `gr.Request.username`."""

    def __init__(self, app: ASGIApp, users: list[tuple[str, str]], keys: list[str]) -> None:
        self.app, self.users, self.keys = app, users, [key.encode() for key in keys]

    def _login(self, header: bytes | None) -> str | None:
        scheme, _, credentials = (header or b"").partition(b" ")
        if scheme.lower() == b"bearer":
            return self._key(credentials.strip())
        return self._user(credentials.strip()) if scheme.lower() == b"basic" else None

    def _key(self, token: bytes) -> str | None:
        found = None
        for n, key in enumerate(self.keys, 1):  # compare against every key so timing reveals nothing
            if secrets.compare_digest(token, key):
                found = f"api-key-{n}"
        return found

    def _user(self, credentials: bytes) -> str | None:
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        found = None
        for name, secret in self.users:  # compare against every user so timing reveals nothing
            if secrets.compare_digest(user.encode(), name.encode()) & secrets.compare_digest(
                password.encode(), secret.encode()
            ):
                found = name
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        login = self._login(dict(scope["headers"]).get(b"authorization"))
        if login is not None:
            scope.setdefault("state", {})["login"] = login
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        # a browser prompts for a Basic login only when there is one to give
        challenge = 'Basic realm="assistant", charset="UTF-8"' if self.users else 'Bearer realm="assistant"'
        message = "login required" if not is_openai_path(scope["path"]) else (
            "missing or wrong API key: send Authorization: Bearer <key> (ASSISTANT_API_KEYS) or a Basic login"
        )
        await _send_json(send, 401, error_payload(scope["path"], 401, message), [(b"www-authenticate", challenge.encode())])


def login_of(request: Request) -> str | None:
    """Gradio's `auth_dependency`: the login `Login` let in (it has refused everyone else)."""
    return getattr(request.state, "login", None)


def _validation_error(exc: RequestValidationError, example: str) -> tuple[str, str | None]:
    """(one-line message, the field it is about) for a request body that does not validate."""
    error = exc.errors()[0]
    if error.get("type") == "json_invalid":
        return "request body is not valid JSON", None
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
    if not where:
        return f"request body must be a JSON object like {example} sent as application/json", None
    return f"{where}: {error.get('msg', 'invalid value')}", where


def create_app(settings: Settings, assistant=None):
    """The whole server as one ASGI app: API routes, the mounted UI, body limit and login."""
    import gradio as gr

    from assistant.answer.chain import Assistant
    from assistant.app.ui import build_ui
    from assistant.app.ui_page import PAGE_LANG, page_options

    assistant = assistant or Assistant(settings)
    users = parse_auth(settings.auth.get_secret_value()) if settings.auth else []
    keys = parse_api_keys(settings.api_keys.get_secret_value()) if settings.api_keys else []
    limiter = anyio.CapacityLimiter(settings.concurrency)
    app = FastAPI(title="assistant", docs_url=None, redoc_url=None, openapi_url=None)

    def error(request, status: int, message: str, param: str | None = None, headers=None) -> JSONResponse:
        return JSONResponse(error_payload(request.url.path, status, message, param), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        openai = is_openai_path(request.url.path)
        message, where = _validation_error(exc, OPENAI_EXAMPLE if openai else '{"question": "..."}')
        return error(request, 400 if openai else 422, message, where)  # OpenAI answers a bad body with 400

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return error(request, exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(UserError)
    async def user_error(request, exc: UserError):
        return error(request, 400, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request, exc: Exception):
        log.exception("unexpected error in %s", exc.__class__.__name__)
        return error(request, 500, "internal error; see the server log")

    @app.post("/api/ask")
    async def ask(request: AskRequest) -> JSONResponse:
        history = [(q, a) for q, a in request.history]
        answer = await anyio.to_thread.run_sync(partial(assistant.ask, request.question, history=history), limiter=limiter)
        return JSONResponse(answer.model_dump(mode="json"))

    @app.get("/api/health")
    async def health() -> dict:
        m = assistant.index.manifest
        return {
            "status": "ok",
            "documents": len(m.documents),
            "chunks": m.chunks,
            "built_at": m.built_at,
            "embedding": m.embedding,
            "mode": assistant.mode,
        }

    # the UI is mounted at /, so without this an unknown /api path or method reached Gradio's
    # {"detail": "Not Found"}; here it is a 404 or 405 like every other API error
    @app.api_route("/api", methods=ALL_METHODS, include_in_schema=False)
    @app.api_route("/api/{rest:path}", methods=ALL_METHODS, include_in_schema=False)
    async def no_such_endpoint(request: Request):
        path = request.url.path
        allowed = sorted({
            method for route in app.routes
            if isinstance(route, APIRoute) and route.endpoint is not no_such_endpoint and route.path_regex.match(path)
            for method in route.methods
        })
        if allowed:
            raise HTTPException(405, f"{request.method} is not allowed on {path}; use {', '.join(allowed)}",
                                headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404, f"no endpoint {request.method} {path}; this server has POST /api/ask and GET /api/health")

    install(app, assistant, settings.api_model, limiter)

    ui = build_ui(assistant, settings)
    # Gradio checks that a file named in a request is one its upload route wrote only once the
    # app "has launched", which mount_gradio_app never marks: without this, a request naming any
    # server file had it copied into Gradio's cache and handed to the event (issue 16).
    ui.has_launched = True
    gr.mount_gradio_app(
        app,
        ui,
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        footer_links=[],
        run_history=False,
        allowed_paths=[],
        show_error=False,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        auth_dependency=login_of if users or keys else None,  # the login is each event's gr.Request.username
        app_kwargs={"docs_url": None, "redoc_url": None, "openapi_url": None},  # no schema pages
        **page_options(),
    )
    app.add_middleware(PageLanguage, lang=PAGE_LANG)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    if users or keys:
        app.add_middleware(Login, users=users, keys=keys)  # added last, so it runs first
    return app


def listen(settings: Settings) -> socket.socket:
    """The listening socket, opened before the heavy start so a busy port is a one-line error."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        return socket.create_server((settings.host, settings.port), family=family)
    except OSError as exc:
        raise UserError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None


def serve(settings: Settings) -> None:
    """Run the server until interrupted (`assistant serve`)."""
    import uvicorn

    sock = listen(settings)
    app = create_app(settings)
    base = f"http://{settings.host}:{sock.getsockname()[1]}"
    print(f"serving on {base}/  (API: /api/ask, /api/health; OpenAI API: {base}/v1, model {settings.api_model})", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
