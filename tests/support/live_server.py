"""A real uvicorn server for the app, on a free 127.0.0.1 port, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import uvicorn

from assistant.app.api import create_app, listen


@contextmanager
def running(settings, assistant, port: int = 0):
    """Yield the base URL of `create_app(settings, assistant)` served over real HTTP (on `port`,
    or a free one)."""
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": port})
    sock = listen(settings)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, assistant), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)


def free_port() -> int:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def wait_for_health(server, base: str, seconds: float = 900) -> None:
    """Until the `assistant serve` process `server` answers /api/health at `base`; it must not exit."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, server.stdout.read()
        try:
            httpx.get(f"{base}/api/health", timeout=5)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
