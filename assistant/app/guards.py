"""The small ASGI layers every request of the HTTP server passes, UI included: a request-body
size limit (and no lone surrogates), the page's language, and, when `Settings.auth` or
`Settings.api_keys` is set, a login: HTTP Basic (browsers prompt for it; `curl -u user:pass`
works) or a bearer API key (what OpenAI clients send). Refusals are JSON error bodies, OpenAI's
shape under /v1."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.app.openai_api import error_body, is_openai_path
from assistant.errors import UserError

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
