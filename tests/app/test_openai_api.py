"""The OpenAI chat API of `assistant serve`, driven by the official `openai` SDK over real HTTP."""

from __future__ import annotations

import httpx
import openai
import pytest
from pydantic import SecretStr

from assistant.answer.chain import Assistant
from assistant.answer.reply import reply_text, strip_sources
from assistant.app.api import create_app
from assistant.app.guards import parse_api_keys
from assistant.app.openai_api import SUPERSEDED, ChatMessage, continuation, conversation
from assistant.errors import UserError
from support.fake_openai_server import FakeOpenAI, quote_first_passage
from support.live_server import running

KEY = "sk-report-test-1"
MODEL = "zhejiang-report"
HANGZHOU = "杭州有多少个产业集群？"


@pytest.fixture(scope="module")
def base_url(report_settings, report_assistant):
    """One server with both logins on: a bearer key (what OpenAI clients send) and Basic."""
    settings = report_settings.model_copy(update={"api_keys": SecretStr(f"{KEY},sk-second"), "auth": SecretStr("ann:s3cret")})
    with running(settings, report_assistant) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url):
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0, timeout=60) as sdk:
        yield sdk


@pytest.fixture(autouse=True)
def no_traceback_logged(capfd, caplog):
    """Whatever a test sends, the server logs no traceback (uvicorn's own log goes to stderr)."""
    yield
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err + caplog.text
    assert not [r for r in caplog.records if r.exc_info]


def ask(client, *messages: tuple[str, str], **extra):
    return client.chat.completions.create(
        model=MODEL, messages=[{"role": role, "content": text} for role, text in messages], **extra
    )


def test_the_one_model_is_listed_for_clients_to_discover(client):
    assert [m.id for m in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).owned_by == "assistant"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_a_plain_completion_is_the_answer_then_its_sources(client, report_assistant):
    reply = ask(client, ("user", HANGZHOU))
    expected = report_assistant.ask(HANGZHOU)
    text = reply.choices[0].message.content
    assert reply.model == MODEL and reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    assert text == reply_text(expected) and text.startswith(expected.answer) and "124" in expected.answer
    assert "来源：\n- [1] 一、产业集群现状 › （一）我省产业集群发展回顾 › 1、产业集群的形成与分布：「" in text
    assert "杭州 124 个，年产值 3380 亿元" in text.split("来源：")[1]
    citations = reply.model_extra["citations"]  # the structured citations, as /api/ask gives them
    assert citations == [c.model_dump(mode="json") for c in expected.citations]
    assert "杭州 124 个，年产值 3380 亿元" in citations[0]["text"] and reply.model_extra["answerable"] is True


def test_a_stream_sends_openai_chunks_that_add_up_to_the_plain_reply(client, base_url):
    plain = ask(client, ("user", HANGZHOU)).choices[0].message.content
    chunks = list(ask(client, ("user", HANGZHOU), stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert "杭州 124 个" in chunks[-1].model_extra["citations"][0]["text"]
    raw = httpx.post(
        f"{base_url}/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"}, timeout=60,
        json={"model": MODEL, "stream": True, "messages": [{"role": "user", "content": HANGZHOU}]},
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n") and raw.text.count("data: ") == len(chunks) + 1


def test_earlier_messages_are_the_history_of_a_follow_up(client):
    first = ask(client, ("user", HANGZHOU)).choices[0].message.content
    turns = [("system", "你是一个乐于助人的助手。"), ("user", HANGZHOU), ("assistant", first), ("user", "那温州呢？")]
    plain = ask(client, *turns).choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in ask(client, *turns, stream=True))
    assert plain == streamed
    answer = strip_sources(plain)
    assert "73" in answer and "温州" in answer and "124" not in answer


def test_an_off_topic_question_is_declined_as_the_python_api_declines_it(client, report_assistant):
    question = "今天天气怎么样？"
    expected = report_assistant.ask(question)
    assert expected.answerable is False
    reply = ask(client, ("user", question))
    assert reply.choices[0].message.content == expected.answer and "来源" not in expected.answer
    assert reply.model_extra["answerable"] is False and reply.model_extra["citations"] == []


@pytest.mark.parametrize(
    "body, error, words",
    [
        ({"messages": [{"role": "system", "content": "你好"}]}, openai.BadRequestError, "no user message"),
        ({"messages": []}, openai.BadRequestError, "messages"),
        ({"messages": [{"role": "user", "content": 42}]}, openai.BadRequestError, "messages.0.content"),
        ({"messages": [{"role": "robot", "content": "问"}]}, openai.BadRequestError, "messages.0.role"),
        ({"messages": [{"role": "user", "content": "问"}], "stream": "yes"}, openai.BadRequestError, "stream"),
        ({"messages": [{"role": "user", "content": "   "}]}, openai.BadRequestError, "question is empty"),
        ({"messages": [{"role": "user", "content": "   "}], "stream": True}, openai.BadRequestError, "question is empty"),
        ({"messages": [{"role": "user", "content": "问" * 3000}]}, openai.BadRequestError, "too long"),
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": "问"}]}, openai.NotFoundError, "gpt-4o"),
        ({"messages": [{"role": "user", "content": "问" * 40000}]}, openai.APIStatusError, "larger than"),
    ],
)
def test_a_bad_request_is_refused_in_openais_error_shape(client, body, error, words):
    request = {"model": MODEL, **body}
    with pytest.raises(error) as refused:
        client.chat.completions.create(model=request.pop("model"), messages=request.pop("messages"), extra_body=request)
    assert 400 <= refused.value.status_code < 500
    assert set(refused.value.body) == {"message", "type", "param", "code"}  # the SDK hands over the error object
    assert refused.value.body["type"] == "invalid_request_error"
    message = refused.value.body["message"]
    assert words in message and "\n" not in message and "Traceback" not in refused.value.response.text


def test_an_unknown_endpoint_under_v1_answers_in_the_same_shape(base_url):
    response = httpx.post(f"{base_url}/v1/embeddings", headers={"authorization": f"Bearer {KEY}"}, json={})
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_url"


def test_a_key_or_a_login_is_required_and_either_one_works(base_url):
    for key in ("wrong-key", KEY + "x"):
        with openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0) as stranger:
            with pytest.raises(openai.AuthenticationError) as refused:
                stranger.models.list()
        assert refused.value.status_code == 401 and refused.value.body["type"] == "authentication_error"
    bare = httpx.post(f"{base_url}/v1/chat/completions", json={"model": MODEL, "messages": []})
    assert bare.status_code == 401 and set(bare.json()["error"]) == {"message", "type", "param", "code"}
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-second", max_retries=0) as second:
        assert "124" in ask(second, ("user", HANGZHOU)).choices[0].message.content
    login = httpx.post(
        f"{base_url}/v1/chat/completions", auth=("ann", "s3cret"), timeout=60,
        json={"model": MODEL, "messages": [{"role": "user", "content": HANGZHOU}]},
    )
    assert login.status_code == 200 and "124" in login.json()["choices"][0]["message"]["content"]
    # the rest of the server: the key opens the API, the browser's challenge stays Basic
    assert httpx.get(f"{base_url}/api/health", headers={"authorization": f"Bearer {KEY}"}).status_code == 200
    page = httpx.get(f"{base_url}/")
    assert page.status_code == 401 and page.json() == {"error": "login required"}
    assert page.headers["www-authenticate"].startswith("Basic")


def test_malformed_api_keys_are_refused_at_start(report_settings, report_assistant):
    assert parse_api_keys(" sk-a , sk-b") == ["sk-a", "sk-b"]
    for raw in ("", "sk-a,", "sk-a,,sk-b", "sk a"):
        with pytest.raises(UserError, match="ASSISTANT_API_KEYS"):
            parse_api_keys(raw)
    with pytest.raises(UserError, match="ASSISTANT_API_KEYS"):
        create_app(report_settings.model_copy(update={"api_keys": SecretStr("sk-a,")}), report_assistant)


def test_streamed_model_text_is_forwarded_and_a_superseded_stream_ends_with_the_final_reply(report_settings, report_index):
    """LLM mode: the model's deltas reach the client as they come; when the final answer replaces
    them (here the model declines) the client is told, and gets the final reply whole."""
    script = {"reply": quote_first_passage}
    with FakeOpenAI(lambda request: script["reply"](request), chunk_chars=4) as model:
        settings = report_settings.model_copy(update={"llm_base_url": model.url, "llm_model": "qwen-test"})
        assistant = Assistant(settings, report_index)
        with running(settings, assistant) as url, openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0) as sdk:
            chunks = list(ask(sdk, ("user", HANGZHOU), stream=True))
            deltas = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
            final = assistant.ask(HANGZHOU)
            script["reply"] = lambda request: "【无答案】资料中没有这个内容"
            declined = "".join(c.choices[0].delta.content or "" for c in ask(sdk, ("user", "浙江的天气如何？"), stream=True))
            decline = assistant.ask("浙江的天气如何？")
    assert final.mode == "llm" and final.citations and len(deltas) > 3
    assert "".join(deltas) == reply_text(final)
    assert not decline.answerable and declined.startswith("【无答案】")
    assert declined.endswith(f"{SUPERSEDED}\n\n{reply_text(decline)}")


def test_messages_become_the_question_and_the_history_of_earlier_turns():
    def msgs(*pairs):
        return [ChatMessage.model_validate({"role": r, "content": c}) for r, c in pairs]

    assert conversation(msgs(("assistant", "您好！"), ("user", "问一"), ("assistant", "答一\n\n来源：\n- [1] 甲：「乙」"),
                             ("user", "问二"), ("user", "问三"), ("system", "规则"), ("user", "问四"))) == (
        "问四", [("问一", "答一"), ("问二", ""), ("问三", "")]
    )
    parts = ChatMessage.model_validate({"role": "user", "content": [{"type": "text", "text": "杭州"},
                                                                    {"type": "image_url", "image_url": {"url": "x"}}]})
    assert parts.text == "杭州"
    assert continuation("答[1]", "答[1]。\n\n来源：…") == "。\n\n来源：…"
    assert continuation("【无答案】", "报告中没有…") == f"\n\n{SUPERSEDED}\n\n报告中没有…"
