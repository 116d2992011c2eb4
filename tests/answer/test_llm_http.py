"""LLM mode end to end against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time

import pytest

from support import cli_runner

from assistant.answer.chain import Assistant
from support.fake_openai_server import FakeOpenAI, passages_of, question_of, quote_first_passage

SECRET = "sk-test-secret-123"


def llm_settings(report_settings, url: str, **extra):
    return report_settings.model_copy(
        update={"llm_base_url": url, "llm_model": "qwen-test", **extra}
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def condensing_then_quoting(request: dict) -> str:
    if "最新问题：" in request["messages"][-1]["content"]:
        return "温州有多少个产业集群？"
    return quote_first_passage(request)


def test_a_follow_up_is_condensed_then_answered_over_http(report_settings, report_index):
    from pydantic import SecretStr

    with FakeOpenAI(condensing_then_quoting) as server:
        settings = llm_settings(report_settings, server.url, llm_api_key=SecretStr(SECRET))
        assistant = Assistant(settings, report_index)
        assert assistant.mode == "llm"
        events = list(assistant.stream("那它呢？", history=[("绍兴有多少个产业集群？", "绍兴 58 个[1]。")]))
    *deltas, answer = events
    condense, generate = server.requests
    assert not condense.get("stream") and generate["stream"] is True  # plain JSON, then SSE
    assert condense["model"] == generate["model"] == "qwen-test"
    assert all(h["authorization"] == f"Bearer {SECRET}" for h in server.headers)
    assert question_of(generate).startswith("温州有多少个产业集群")
    assert len(deltas) > 3 and "".join(deltas) == answer.answer
    first = passages_of(generate)[1]
    assert answer.mode == "llm" and answer.answer.endswith("[1]。") and answer.answer[:-4] in first
    assert answer.citations[0].text == first == answer.retrieved[0].text
    assert answer.warnings == []
    assert SECRET not in answer.model_dump_json()


def test_the_ollama_provider_talks_to_ollamas_own_chat_api(report_settings, report_index):
    from pydantic import SecretStr

    with FakeOpenAI(condensing_then_quoting) as server:
        settings = llm_settings(report_settings, server.root, llm_provider="ollama", llm_api_key=SecretStr(SECRET))
        assistant = Assistant(settings, report_index)
        events = list(assistant.stream("那它呢？", history=[("绍兴有多少个产业集群？", "绍兴 58 个[1]。")]))
    *deltas, answer = events
    condense, generate = server.requests
    assert condense["model"] == generate["model"] == "qwen-test"
    assert generate["options"]["temperature"] == 0
    assert all(h["authorization"] == f"Bearer {SECRET}" for h in server.headers)
    assert question_of(generate).startswith("温州有多少个产业集群")
    assert len(deltas) > 3 and "".join(deltas) == answer.answer  # streamed chunk by chunk
    assert answer.mode == "llm" and answer.answer.endswith("[1]。")
    assert answer.citations[0].text == passages_of(generate)[1] and answer.warnings == []


def test_an_endpoint_that_is_down_gives_the_extractive_answer_quickly(report_settings, report_index):
    settings = llm_settings(report_settings, f"http://127.0.0.1:{closed_port()}/v1", llm_timeout_s=60.0)
    started = time.monotonic()
    answer = Assistant(settings, report_index).ask("杭州有多少个产业集群？")
    assert time.monotonic() - started < 20  # refused at once, not waited out (margins for a loaded machine)
    assert answer.mode == "extractive" and "124" in answer.answer
    assert answer.warnings == ["语言模型不可用（无法连接），已改用抽取式回答。"]


def test_a_slow_endpoint_times_out_within_the_configured_time(report_settings, report_index):
    with FakeOpenAI(quote_first_passage, delay=120) as server:
        settings = llm_settings(report_settings, server.url, llm_timeout_s=1.0)
        assistant = Assistant(settings, report_index)
        started = time.monotonic()
        answer = assistant.ask("杭州有多少个产业集群？")
        elapsed = time.monotonic() - started
    assert elapsed < 60  # gave up at the 1 s deadline instead of waiting out the 120 s reply (wide margin: shared CPUs)
    assert len(server.requests) == 1  # no retry once the time is up
    assert answer.mode == "extractive" and "124" in answer.answer
    assert "超时" in answer.warnings[0]


def test_a_server_error_is_retried_once_then_answered_extractively(report_settings, report_index):
    with FakeOpenAI(quote_first_passage, status=500) as server:
        answer = Assistant(llm_settings(report_settings, server.url), report_index).ask("杭州有多少个产业集群？")
    assert len(server.requests) == 2
    assert answer.mode == "extractive" and answer.warnings == ["语言模型不可用（HTTP 500），已改用抽取式回答。"]


# --- the CLI with ASSISTANT_LLM_BASE_URL --------------------------------------------------


@pytest.fixture
def cli(report_settings, report_index, tmp_path):
    def run(*args, url: str):
        env = {
            "ASSISTANT_CORPUS_DIR": str(report_settings.corpus_dir),
            "ASSISTANT_PERSIST_DIR": str(report_settings.persist_dir),
            "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
            "ASSISTANT_EMBEDDING": "hashing",
            "ASSISTANT_LLM_BASE_URL": url,
            "ASSISTANT_LLM_API_KEY": SECRET,
        }
        return cli_runner.run(*args, env=env, cwd=tmp_path)

    return run


def test_ask_json_in_llm_mode(cli):
    with FakeOpenAI(quote_first_passage) as server:
        result = cli("ask", "杭州有多少个产业集群？", "--json", url=server.url)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"question", "answer", "answerable", "citations", "retrieved", "timings_ms", "mode", "warnings"} <= set(data)
    assert data["mode"] == "llm" and data["answer"].endswith("[1]。") and data["warnings"] == []
    assert data["citations"][0]["text"] == passages_of(server.requests[0])[1]
    assert SECRET not in result.stdout + result.stderr


def test_ask_with_the_endpoint_down_prints_a_notice_and_the_extractive_answer(cli):
    result = cli("ask", "杭州有多少个产业集群？", url=f"http://127.0.0.1:{closed_port()}/v1")
    assert result.returncode == 0, result.stderr
    assert "124" in result.stdout
    assert "warning: 语言模型不可用（无法连接），已改用抽取式回答。" in result.stderr.splitlines()


def test_eval_in_llm_mode_scores_the_generated_answers(cli, tmp_path):
    items = [
        {"id": "a", "question": "杭州有多少个产业集群？", "answerable": True, "must_include": ["124"]},
        {"id": "b", "question": "江苏省有多少个产业集群？", "answerable": False},
    ]
    eval_set = tmp_path / "set.jsonl"
    eval_set.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items), encoding="utf-8")

    def reply(request: dict) -> str:
        return "【无答案】资料没有江苏的数据" if "江苏" in question_of(request) else quote_first_passage(request)

    with FakeOpenAI(reply) as server:
        result = cli("eval", "--set", str(eval_set), "--json", url=server.url)
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert len(server.requests) == 2
    answered, declined = run["items"]
    assert answered["answer"].endswith("[1]。") and answered["citations"]
    assert not declined["answerable"] and declined["correct"]
    assert run["metrics"]["n"] == 2 and run["metrics"]["refusal_accuracy"] == 1.0
