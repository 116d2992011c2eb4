"""Bad input sent straight to Gradio's HTTP routes of the served app (issue 16, item 9): a lone
surrogate is a one-line 400, a draft target the file system cannot take is a one-line Chinese
message, and the server's log shows no traceback for either."""

from __future__ import annotations

import json

import httpx
import pytest

from assistant.app.guards import NOT_TEXT
from support.live_server import running

DRAFT = ["fb-x", "杭州有多少个产业集群？", True, "参考", "124个", "", "feedback", "held-out"]  # save_draft's inputs before the target


@pytest.fixture(scope="module")
def served(report_settings, report_assistant, tmp_path_factory):
    root = tmp_path_factory.mktemp("gradio_bad_input")
    settings = report_settings.model_copy(update={"data_dir": root / "data", "evals_dir": root / "evals", "train_dir": root / "evals" / "train"})
    settings.evals_dir.mkdir()
    with running(settings, report_assistant) as url, httpx.Client(base_url=url, timeout=300) as http:
        yield settings, http


def _events(http: httpx.Client, endpoint: str, data: list) -> str:
    started = http.post(f"/gradio_api/call/{endpoint}", json={"data": data})
    assert started.status_code == 200, started.text
    return http.get(f"/gradio_api/call/{endpoint}/{started.json()['event_id']}").text


@pytest.mark.parametrize(
    "path, body",
    [
        ("/gradio_api/run/respond", '{"data": ["\\ud800", null]}'),
        ("/gradio_api/call/respond", '{"data": ["\\udcff杭州有多少个产业集群？"]}'),
        ("/gradio_api/call/v2/respond", '{"data": ["\\ud800"]}'),
        ("/gradio_api/queue/join", '{"data": ["问"], "fn_index": 0, "session_hash": "\\ud800", "trigger_id": 1}'),
        ("/gradio_api/run/respond", b'{"data": ["\xed\xa0\x80", null]}'),  # the same, as raw (CESU-8) bytes
    ],
    ids=["run", "call", "call-v2", "queue-join", "raw-bytes"],
)
def test_a_lone_surrogate_is_a_one_line_400_and_no_traceback(served, capfd, path, body):
    _, http = served
    response = http.post(path, content=body if isinstance(body, bytes) else body.encode(),
                         headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json() == {"error": NOT_TEXT}
    assert http.get("/api/health").status_code == 200
    assert "Traceback" not in "".join(capfd.readouterr())


def test_a_question_with_no_surrogate_still_goes_through_the_call_route(served):
    _, http = served
    assert "124" in _events(http, "respond", ["杭州有多少个产业集群？"])


@pytest.mark.parametrize(
    "name, message",
    [
        ("a\x00b.jsonl", "文件名里有控制字符（例如 NUL），请只用普通文字"),
        ("a" * 300 + ".jsonl", "文件名太长：每一级最多 255 字节，这里有一级 306 字节"),
        ("/".join(["a" * 200] * 25) + ".jsonl", "无法使用这个文件名：File name too long"),
    ],
    ids=["nul", "300-characters", "path-too-long"],
)
def test_a_draft_target_the_file_system_cannot_take_is_a_clear_chinese_line(served, capfd, name, message):
    settings, http = served
    stream = _events(http, "save_draft", [*DRAFT, str(settings.evals_dir / name), False])
    error = json.loads(stream.split("event: error\n", 1)[1].split("data: ", 1)[1].splitlines()[0])
    assert error["error"] == message
    assert list(settings.evals_dir.iterdir()) == []
    assert "Traceback" not in "".join(capfd.readouterr())
