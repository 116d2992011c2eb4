"""Security defaults over real HTTP: no file outside the app is served, secrets never show.

The server is the real app (`assistant serve` as a process where its logs matter, otherwise
`create_app` on 127.0.0.1); requests go out byte for byte (http.client), so traversal paths
reach the server un-normalised.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from support import cli_runner
from support.live_server import free_port, running, wait_for_health

ROOT = Path(__file__).resolve().parents[2]
ASSISTANT = cli_runner.EXECUTABLE
API_KEY = "sk-test-NEVER-SHOWN-7f3a9c1e"
PASSWORD = "pw-NEVER-SHOWN-51c2e8d0"
AUTH = f"ann:{PASSWORD}"
QUESTION = "杭州有多少个产业集群？"


def _raw_get(base_url: str, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """GET exactly `path`: no client-side normalising of `..` or percent-escapes."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("outside") / "secret.txt"
    path.write_text("TOP-SECRET-MARKER", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def base_url(report_settings, report_assistant):
    with running(report_settings, report_assistant) as url:
        yield url


def _targets(secret_file: Path, report_settings) -> list[str]:
    current = report_settings.persist_dir / "CURRENT"
    return [
        "/etc/passwd",
        "/proc/self/environ",
        str(secret_file),
        str(ROOT / "README.md"),
        str(ROOT / "corpus" / "zhejiang-industrial-clusters-report.md"),
        str(current),
    ]


TRAVERSALS = [
    "/file=../../../../../../../../etc/passwd",
    "/gradio_api/file=../../../../../../../../etc/passwd",
    "/gradio_api/file=%2Fetc%2Fpasswd",
    "/gradio_api/file=..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/../../../../../../etc/passwd",
    "/static/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/assets/../../../../../../etc/passwd",
    "/assets/..%252F..%252F..%252F..%252Fetc%252Fpasswd",
    "/gradio_api/static/../../../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%5c..%5c..%5c..%5cetc%5cpasswd",
    "//etc/passwd",
    "/api/../../../../etc/passwd",
    "/gradio_api/file=/etc/passwd%00.png",
]


def _leaks(body: bytes, secret_file: Path) -> list[str]:
    found = []
    if b"root:x:0:0" in body or b"root:" in body and b":/bin/" in body:
        found.append("/etc/passwd")
    if b"TOP-SECRET-MARKER" in body:
        found.append(str(secret_file))
    if b"PATH=" in body or b"HOME=" in body:
        found.append("the process environment")
    if "## 一、".encode() in body or b"# \xe6\xb5\x99" in body[:4]:
        found.append("the report's markdown")
    return found


def test_no_file_outside_the_app_is_served_by_any_route(base_url, secret_file, report_settings):
    paths = [f"{route}{target}" for target in _targets(secret_file, report_settings)
             for route in ("/file=", "/gradio_api/file=", "/gradio_api/file/")] + TRAVERSALS
    served = []
    for path in paths:
        status, body = _raw_get(base_url, path)
        if not 400 <= status < 500 or _leaks(body, secret_file):
            served.append((path, status, _leaks(body, secret_file)))
    assert served == []
    # and the server is still answering afterwards
    assert httpx.get(f"{base_url}/api/health", timeout=120).status_code == 200


def test_settings_never_print_their_secrets():
    from assistant.settings import Settings

    settings = Settings(llm_api_key=API_KEY, auth=AUTH)
    for text in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert API_KEY not in text and PASSWORD not in text


def _env(report_settings, tmp_path: Path, **extra: str) -> dict:
    return {
        **os.environ,
        "ASSISTANT_PERSIST_DIR": str(report_settings.persist_dir),
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
        "ASSISTANT_LLM_API_KEY": API_KEY,
        "ASSISTANT_AUTH": AUTH,
        **extra,
    }


def _closed_port() -> int:
    return free_port()  # (nothing listens on it once the probe is closed)


def test_info_and_ask_never_show_the_api_key_or_password(report_settings, report_index, tmp_path):
    # an LLM endpoint that refuses connections: the failure path is where keys tend to leak
    env = _env(report_settings, tmp_path, ASSISTANT_LLM_BASE_URL=f"http://127.0.0.1:{_closed_port()}/v1")
    outputs = []
    for args in (["info"], ["ask", QUESTION], ["ask", QUESTION, "--json"], ["ask", "？？"]):
        result = cli_runner.run(*args, env=env, cwd=tmp_path)
        assert "Traceback" not in result.stderr, result.stderr
        outputs.append(result.stdout + result.stderr)
    assert "llm" in outputs[0]  # info saw the settings that hold the key
    for text in outputs:
        assert API_KEY not in text and PASSWORD not in text


def test_the_served_app_never_shows_or_logs_the_api_key_or_password(report_settings, report_index, tmp_path):
    port = _closed_port()
    env = _env(report_settings, tmp_path, ASSISTANT_LLM_BASE_URL=f"http://127.0.0.1:{_closed_port()}/v1")
    server = subprocess.Popen(
        [ASSISTANT, "serve", "--port", str(port)], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    bodies: list[str] = []
    try:
        wait_for_health(server, base)
        with httpx.Client(base_url=base, timeout=300) as http:
            refused = http.get("/", auth=("ann", "wrong"))
            assert refused.status_code == 401
            bodies.append(refused.text + str(refused.headers))
            login = ("ann", PASSWORD)
            for path in ("/", "/config", "/gradio_api/info", "/api/health"):
                response = http.get(path, auth=login)
                assert response.status_code == 200, path
                bodies.append(response.text + str(response.headers))
            for body in ({"question": QUESTION}, {"question": "？？"}, {"question": 3}):
                response = http.post("/api/ask", json=body, auth=login)
                bodies.append(response.text + str(response.headers))
            assert "124" in bodies[-3]  # `assistant serve` answers from the index it was given
            bodies.append(http.post("/api/ask", content=b"{not json", auth=login).text)
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=60)
    assert "serving on http://127.0.0.1:" in log  # loopback unless told otherwise
    for text in [log, *bodies]:
        assert API_KEY not in text and PASSWORD not in text


def _call(base_url: str, endpoint: str, data: list) -> str:
    """One call through Gradio's HTTP call API: the whole event stream it answers with."""
    started = httpx.post(f"{base_url}/gradio_api/call/{endpoint}", json={"data": data}, timeout=60)
    if started.status_code != 200:
        return f"{started.status_code} {started.text}"
    event = started.json()["event_id"]
    return httpx.get(f"{base_url}/gradio_api/call/{endpoint}/{event}", timeout=300).text


def test_no_endpoint_evaluates_or_copies_a_file_named_by_the_request(base_url, tmp_path):
    """A FileData naming a server file (or its path as a set name) is refused before it is read
    or copied: only what this browser session uploaded is evaluated."""
    from gradio.utils import get_upload_folder

    marker = f"SECRET-QUESTION-{uuid.uuid4().hex}"  # (not found in what an earlier run left behind)
    secret = tmp_path / "private_qa.jsonl"
    secret.write_text(f'{{"id": "s1", "question": "{marker}", "answerable": false}}\n', encoding="utf-8")
    info = httpx.get(f"{base_url}/gradio_api/info", timeout=60).json()
    endpoints = {name.lstrip("/"): spec["parameters"] for name, spec in info["named_endpoints"].items()}
    file_taking = [name for name, params in endpoints.items()
                   if any("File" in p.get("component", "") for p in params)]
    # with Gradio's file marker, and without it (then Gradio's own upload-folder check is skipped)
    forms = [{"path": str(secret), "meta": {"_type": "gradio.FileData"}, "orig_name": secret.name},
             {"path": str(secret), "orig_name": secret.name}]
    calls = [(name, [form if "File" in p.get("component", "") else None for p in endpoints[name]])
             for name in file_taking for form in forms]
    calls += [("run_set", [None, form]) for form in forms]  # the evaluation, whatever its inputs are now
    calls += [("run_set", [str(secret), None])]  # a path as the name of a set
    for name, data in calls:
        stream = _call(base_url, name, data)
        assert marker not in stream, name
        assert "Traceback" not in stream, name
    copies = [p for p in Path(get_upload_folder()).rglob("*") if p.is_file() and marker.encode() in p.read_bytes()]
    assert copies == []


def test_an_uploaded_set_is_read_only_from_the_upload_folder(tmp_path):
    from gradio.utils import get_upload_folder

    from assistant.errors import UserError
    from assistant.app.ui_eval import uploaded_file

    outside = tmp_path / "set.jsonl"
    outside.write_text("{}\n", encoding="utf-8")
    with pytest.raises(UserError, match="只能评测本页上传的文件") as refused:
        uploaded_file(str(outside), 65536)
    assert str(tmp_path) not in str(refused.value)  # the server's paths are not shown
    inside = Path(get_upload_folder()) / "test-upload" / "set.jsonl"
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_text("{}\n", encoding="utf-8")
    assert uploaded_file(str(inside), 65536) == inside.resolve()
    link = Path(get_upload_folder()) / "test-upload" / "link.jsonl"
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    with pytest.raises(UserError):
        uploaded_file(str(link), 65536)  # a link that leads out of the folder is not followed
    inside.write_text("x" * 70000, encoding="utf-8")
    with pytest.raises(UserError, match="太大"):
        uploaded_file(str(inside), 65536)
