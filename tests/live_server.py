"""A real uvicorn server for the app, on a free 127.0.0.1 port, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import uvicorn

from assistant.api import create_app, listen


@contextmanager
def running(settings, assistant):
    """Yield the base URL of `create_app(settings, assistant)` served over real HTTP."""
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": 0})
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
