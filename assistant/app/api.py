"""The HTTP server: `POST /api/ask`, `GET /api/health`, the OpenAI chat API under `/v1`
(assistant.app.openai_api) and the chat UI mounted at `/`.

`/api/ask` returns exactly `Answer.model_dump()`, the JSON of `assistant ask --json`. Every
bad request is a 4xx `{"error": "..."}` (under /v1, OpenAI's error object); nothing answers
with a traceback. Small ASGI layers (assistant.app.guards) guard everything, UI included: a
request-body size limit and, when `Settings.auth` or `Settings.api_keys` is set, a login.
"""

from __future__ import annotations

import logging
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

from assistant.app.openai_api import EXAMPLE as OPENAI_EXAMPLE
from assistant.app.guards import BodyLimit, Login, PageLanguage, error_payload, login_of, parse_api_keys, parse_auth
from assistant.app.openai_api import install, is_openai_path
from assistant.errors import UserError
from assistant.settings import Settings

log = logging.getLogger(__name__)
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    question: str
    history: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = []


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
