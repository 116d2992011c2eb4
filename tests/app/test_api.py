"""The HTTP API over real HTTP: the `ask --json` contract, every kind of bad request, login, files."""

import json
import re
import socket
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from assistant.answer_models import Answer
from assistant.app.api import create_app, listen
from assistant.app.guards import parse_auth
from assistant.errors import UserError
from support import cli_runner
from support.live_server import running



@pytest.fixture(scope="module")
def base_url(report_settings, report_assistant):
    with running(report_settings, report_assistant) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=120) as http:
        yield http


def _without_timings(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "timings_ms"}


def test_ask_returns_exactly_the_answer_json_of_the_python_api(client, report_assistant):
    response = client.post("/api/ask", json={"question": "杭州有多少个产业集群？"})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == set(Answer.model_fields)
    expected = report_assistant.ask("杭州有多少个产业集群？").model_dump(mode="json")
    assert _without_timings(data) == _without_timings(expected)
    assert "124" in data["answer"] and "杭州 124 个" in data["citations"][0]["text"]
    assert data["timings_ms"]["total"] > 0


def test_ask_uses_the_history_for_a_follow_up(client):
    first = client.post("/api/ask", json={"question": "绍兴有多少个产业集群？"}).json()
    follow = client.post(
        "/api/ask", json={"question": "那温州呢？", "history": [["绍兴有多少个产业集群？", first["answer"]]]}
    ).json()
    assert "73" in follow["answer"] and "温州" in follow["standalone_question"]


@pytest.mark.parametrize(
    "body, headers, status, message",
    [
        ('{"question": "杭州'.encode(), {"content-type": "application/json"}, 422, "not valid JSON"),
        (b"question=hi", {"content-type": "application/x-www-form-urlencoded"}, 422, "JSON object"),
        (b"", {"content-type": "application/json"}, 422, "JSON object"),
        (b"[]", {"content-type": "application/json"}, 422, "JSON object"),
        (b'{"question": 42}', {"content-type": "application/json"}, 422, "question"),
        (b'{"history": []}', {"content-type": "application/json"}, 422, "question"),
        ('{"question": "问", "history": [["只有问题"]]}'.encode(), {"content-type": "application/json"}, 422, "history"),
        ('{"question": "问", "history": "[]"}'.encode(), {"content-type": "application/json"}, 422, "history"),
        ('{"question": "问", "questoin": "typo"}'.encode(), {"content-type": "application/json"}, 422, "questoin"),
        (b'{"question": "   "}', {"content-type": "application/json"}, 400, "empty"),
        (json.dumps({"question": "问" * 3000}).encode(), {"content-type": "application/json"}, 400, "too long"),
    ],
)
def test_bad_requests_get_a_one_line_json_error(client, body, headers, status, message):
    response = client.post("/api/ask", content=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in error and "\n" not in error and "Traceback" not in response.text


def test_a_body_over_the_limit_is_refused_whether_declared_or_streamed(client, report_settings):
    big = json.dumps({"question": "问" * report_settings.max_request_bytes}).encode()
    declared = client.post("/api/ask", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "larger than" in declared.json()["error"]

    def chunks():  # no Content-Length: the server must count what actually arrives
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = client.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "larger than" in streamed.json()["error"]


def test_health_describes_the_index_and_mode(client):
    data = client.get("/api/health").json()
    assert data["status"] == "ok" and data["documents"] == 1 and data["chunks"] > 10
    assert data["embedding"]["kind"] == "hashing" and data["mode"] == "extractive"


def test_the_ui_is_served_and_no_file_outside_it(client):
    page = client.get("/")
    assert page.status_code == 200 and "浙江省产业集群调研报告" in page.text
    readme = Path(__file__).resolve().parents[2] / "README.md"
    for path in ("/etc/passwd", str(readme)):
        for route in (f"/gradio_api/file={path}", f"/file={path}"):
            response = client.get(route)
            assert response.status_code in (403, 404), route
            assert "root:" not in response.text and "问答助手" not in response.text
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


def test_login_protects_the_api_and_the_ui(report_settings, report_assistant):
    settings = report_settings.model_copy(update={"auth": SecretStr("ann:s3cret,bob:pa:ss")})
    with running(settings, report_assistant) as url, httpx.Client(base_url=url, timeout=120) as http:
        for path in ("/", "/api/health", "/config"):
            refused = http.get(path)
            assert refused.status_code == 401 and refused.json() == {"error": "login required"}
            assert refused.headers["www-authenticate"].startswith("Basic")
        assert http.post("/api/ask", json={"question": "杭州有多少个产业集群？"}, auth=("ann", "wrong")).status_code == 401
        assert http.get("/api/health", auth=("eve", "s3cret")).status_code == 401
        assert http.get("/api/health", headers={"authorization": "Basic %%%"}).status_code == 401
        assert http.get("/", auth=("ann", "s3cret")).status_code == 200
        answer = http.post("/api/ask", json={"question": "杭州有多少个产业集群？"}, auth=("bob", "pa:ss"))
        assert answer.status_code == 200 and "124" in answer.json()["answer"]


def _routes(routes, prefix: str = ""):
    """(path, method) of every route the app serves: ours, and Gradio's mounted ones."""
    for route in routes:
        kind = type(route).__name__
        if kind == "_IncludedRouter":  # FastAPI's included routers (Gradio's /gradio_api/…)
            yield from _routes(route.original_router.routes, prefix + (route.include_context.prefix or ""))
        elif kind == "Mount":
            yield from _routes(route.routes, prefix + route.path)
        else:
            for method in getattr(route, "methods", None) or ["WEBSOCKET"]:
                yield prefix + route.path, method


def test_with_a_login_set_every_route_schema_and_info_included_refuses_a_request_without_it(report_settings, report_assistant):
    """/gradio_api/openapi.json was reported served without login: no route of ours or
    Gradio's bypasses the login layer, which sits in front of the whole app."""
    settings = report_settings.model_copy(update={"auth": SecretStr("ann:s3cret")})
    served = sorted(set(_routes(create_app(settings, report_assistant).routes)))
    paths = {path for path, _ in served}
    assert {"/gradio_api/openapi.json", "/gradio_api/info", "/config", "/gradio_api/upload", "/api/ask"} <= paths
    assert len(served) > 60
    with running(settings, report_assistant) as url, httpx.Client(base_url=url, timeout=120) as http:
        answered = []
        for path, method in served:
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            if method == "WEBSOCKET":
                answered.append((path, method, "websocket"))  # none today; a new one must be checked here
                continue
            status = http.request(method, concrete).status_code
            if status != 401:
                answered.append((path, method, status))
        assert answered == []
        assert http.get("/gradio_api/openapi.json", auth=("ann", "wrong")).status_code == 401
        assert http.get("/gradio_api/openapi.json", auth=("ann", "s3cret")).status_code == 200


def test_malformed_auth_settings_are_refused(report_settings, report_assistant):
    assert parse_auth("ann:x, bob:y:z") == [("ann", "x"), ("bob", "y:z")]
    for raw in ("ann", "ann:", ":x", "ann:x,"):
        with pytest.raises(UserError, match="ASSISTANT_AUTH"):
            parse_auth(raw)
    with pytest.raises(UserError, match="ASSISTANT_AUTH"):
        create_app(report_settings.model_copy(update={"auth": SecretStr("nopassword")}), report_assistant)


def test_serve_binds_localhost_by_default_and_a_busy_port_is_one_line(report_settings):
    busy = socket.create_server(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    with busy:
        with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}"):
            listen(report_settings.model_copy(update={"port": port}))
        result = cli_runner.run("serve", "--port", str(port))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "cannot listen" in result.stderr
    assert report_settings.host == "127.0.0.1"


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/ask", 405), ("PUT", "/api/ask", 405), ("DELETE", "/api/health", 405),
    ("GET", "/api/nope", 404), ("POST", "/api/ask/extra", 404), ("GET", "/api", 404),
])
def test_an_unknown_api_route_or_method_is_a_json_error_like_the_others(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status and set(response.json()) == {"error"}, response.text
    assert path in response.json()["error"]
    if status == 405:
        assert response.headers["allow"] in ("POST", "GET")
    v1 = client.get("/v1/chat/completions")  # the OpenAI API keeps its own error shape
    assert v1.status_code == 404 and v1.json()["error"]["code"] == "unknown_url"


def test_the_page_is_served_in_chinese_whatever_the_browser_asks(client):
    page = client.get("/", headers={"accept-language": "en-US,en;q=0.9"})
    assert page.status_code == 200 and int(page.headers["content-length"]) == len(page.content)
    assert re.search(r'<html\s+lang="zh-CN"', page.text) and "Navigator.prototype" in page.text.split("</head>")[0]
