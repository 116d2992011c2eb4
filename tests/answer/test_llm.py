"""LLM mode with LangChain's fake chat models: the prompt, citation mapping, grounding, fallbacks."""

from __future__ import annotations

import time
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from pydantic import Field

from assistant.answer_models import Answer
from assistant.errors import UserError
from assistant.ingest.chunk import count_tokens
from assistant.answer.llm import (
    ANSWER_TOKENS,
    DECLINE,
    NOT_FOUND,
    CitationMapper,
    LLMAnswerer,
    LLMError,
    answer_messages,
    fit_passages,
    numbers_in,
)
from assistant.settings import Settings
from support.fake_openai_server import quote_first_passage

SECTION = "一、产业集群现状 › （一）发展回顾"


class RecordingModel(GenericFakeChatModel):
    """Replies from a script and keeps every prompt it was given."""

    prompts: list[list[Any]] = Field(default_factory=list)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.prompts.append(messages)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


class QuotingModel(GenericFakeChatModel):
    """Answers with the first sentence of whatever passage [1] is, cited."""

    messages: Any = iter(())

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        request = {"messages": [{"content": m.content} for m in messages]}
        self.messages = iter([quote_first_passage(request)])
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


class FailingModel(GenericFakeChatModel):
    """An endpoint that refuses every call, or stalls for `stall` seconds first."""

    messages: Any = iter(())
    calls: int = 0
    stall: float = 0.0

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls += 1
        time.sleep(self.stall)
        raise ConnectionError("connection refused")


def model(*replies: str) -> RecordingModel:
    return RecordingModel(messages=iter(replies))


def doc(n: int, text: str, section: str = SECTION) -> Document:
    return Document(text, metadata={"chunk_id": f"c{n}", "source": "report.md", "title": "报告", "section": section, "score": 1 - n / 10})


DOCS = [
    doc(1, "从分布看，杭州 124 个，年产值 3380 亿元；宁波 96 个。"),
    doc(2, "绍兴 58 个，年产值 2647 亿元。", "一、产业集群现状 › （二）分布"),
    doc(3, "产业集群的发展需要政府引导和市场推动。", "二、对策 › （一）思路"),
]


def extractive_stub() -> Answer:
    return Answer(question="q", answer="抽取式：杭州 124 个[1]", answerable=True)


def run(llm: GenericFakeChatModel, documents=DOCS, question="杭州有多少个产业集群？", timeout=30.0, **settings):
    answerer = LLMAnswerer(llm, Settings(llm_timeout_s=timeout, **settings))
    events = list(answerer.stream(question, question, documents, answerer.budget(), extractive_stub))
    *deltas, answer = events
    assert all(isinstance(d, str) for d in deltas) and isinstance(answer, Answer)
    return deltas, answer


def test_the_prompt_gives_numbered_passages_with_sections_and_asks_for_citations():
    messages = answer_messages("杭州有多少个产业集群？", fit_passages("杭州有多少个产业集群？", DOCS, 3000))
    system, human = messages[0].content, messages[1].content
    assert NOT_FOUND in system and "[1]" in system
    assert human.index(f"[1]（{SECTION}）\n从分布看") < human.index("[2]（一、产业集群现状 › （二）分布）\n绍兴")
    assert human.index("[3]（二、对策") < human.index("问题：杭州有多少个产业集群？")


def test_passages_are_fitted_to_the_token_budget_in_rank_order():
    long_docs = [doc(n, f"第{n}段。" + "产业集群发展" * 60) for n in range(1, 9)]
    question = "产业集群怎么发展？"
    for context in (800, 1500, 3000):
        fitted = fit_passages(question, long_docs, context)
        prompt = "".join(m.content for m in answer_messages(question, fitted))
        assert count_tokens(prompt) <= context - min(ANSWER_TOKENS, context // 4)
        assert [d.metadata["chunk_id"] for d in fitted] == [f"c{n}" for n in range(1, len(fitted) + 1)]
    assert 0 < len(fit_passages(question, long_docs, 1500)) < len(fit_passages(question, long_docs, 3000)) < 8


def test_an_over_long_first_passage_is_cut_to_fit_a_tiny_budget():
    huge = [doc(1, "杭州产业集群规模很大。" * 200)]
    fitted = fit_passages("杭州？", huge, 400)
    assert len(fitted) == 1 and 0 < len(fitted[0].page_content) < len(huge[0].page_content)
    prompt = "".join(m.content for m in answer_messages("杭州？", fitted))
    assert count_tokens(prompt) <= 400 - 100


def test_the_model_sees_the_prompt_and_its_markers_are_renumbered_in_order_of_use():
    llm = model("绍兴 58 个[2]；杭州 124 个[1][2]。")
    deltas, answer = run(llm)
    assert "[1]（一、产业集群现状" in llm.prompts[0][1].content
    assert answer.answer == "绍兴 58 个[1]；杭州 124 个[2][1]。" == "".join(deltas)
    assert [c.chunk_id for c in answer.citations] == ["c2", "c1"]
    assert [c.n for c in answer.citations] == [1, 2]
    assert answer.mode == "llm" and answer.answerable and answer.warnings == []
    assert answer.extractive_answer is None
    assert len(answer.retrieved) == 3


def test_markers_that_point_to_no_passage_are_dropped_and_reported():
    _, answer = run(model("杭州 124 个[1][7]，宁波 96 个【12】。"))
    assert answer.answer == "杭州 124 个[1]，宁波 96 个。"
    assert [c.chunk_id for c in answer.citations] == ["c1"]
    assert len(answer.warnings) == 1 and "[7]" in answer.warnings[0] and "[12]" in answer.warnings[0]


def test_a_marker_split_across_streamed_chunks_is_still_mapped():
    mapper = CitationMapper(passages=3)
    pieces = ["杭州 124 个[", "3", "]，宁波［", "１］；见[2", "005年]。[", "2"]
    text = "".join(mapper.feed(p) for p in pieces) + mapper.close()
    assert text == "杭州 124 个[1]，宁波[2]；见[2005年]。[2"
    assert mapper.used == [3, 1]


def test_an_invented_number_is_flagged_and_the_extractive_answer_is_given_beside_it():
    _, answer = run(model("杭州有 125 个产业集群，年产值 3380 亿元[1]。"))
    assert answer.answerable and answer.mode == "llm"
    assert len(answer.warnings) == 1 and "125" in answer.warnings[0] and "3380" not in answer.warnings[0]
    assert answer.extractive_answer == "抽取式：杭州 124 个"


def test_numbers_count_only_when_they_are_in_a_cited_passage():
    _, answer = run(model("杭州 124 个，绍兴 58 个[1]。"))
    assert "58" in answer.warnings[0] and answer.extractive_answer


def test_chinese_and_full_width_numerals_are_grounded_after_normalising():
    _, answer = run(model("杭州有一百二十四个产业集群，年产值３３８０亿元[1]。"))
    assert answer.warnings == [] and answer.extractive_answer is None
    assert numbers_in("百分之三十，1,234 个，12.50 亿[3]") == {"30", "1234", "12.5"}


def test_an_answer_without_citations_is_warned_about():
    _, answer = run(model("杭州有 124 个。"))
    assert answer.citations == []
    assert any("没有标注引用" in w for w in answer.warnings)
    assert answer.extractive_answer  # nothing cited, so 124 is not grounded either


def test_the_not_found_marker_declines_without_citations():
    _, answer = run(model(f"{NOT_FOUND}资料只讲浙江省，没有江苏的数据[1]"), question="江苏有多少个产业集群？")
    assert not answer.answerable and answer.citations == []
    assert answer.answer.startswith(DECLINE) and "江苏" in answer.answer and "[1]" not in answer.answer


def test_a_refusing_endpoint_is_retried_once_then_answered_extractively():
    llm = FailingModel()
    started = time.monotonic()
    deltas, answer = run(llm, timeout=60)
    assert llm.calls == 2 and time.monotonic() - started < 20  # far from the 60 s deadline
    assert deltas == [] and answer.mode == "extractive" and answer.answer == extractive_stub().answer
    assert answer.warnings == ["语言模型不可用（无法连接），已改用抽取式回答。"]


def test_a_stalled_model_gives_way_at_the_deadline_without_a_retry():
    llm = FailingModel(stall=20)
    started = time.monotonic()
    _, answer = run(llm, timeout=0.5)
    assert time.monotonic() - started < 5  # the deadline, not the stall (margin for a loaded machine)
    assert llm.calls == 1 and "超时" in answer.warnings[0] and answer.mode == "extractive"


def test_a_failure_is_remembered_for_the_rest_of_the_question():
    llm = FailingModel()
    answerer = LLMAnswerer(llm, Settings())
    budget = answerer.budget()
    with pytest.raises(LLMError):
        answerer.condense("那温州呢？", [("绍兴有多少个产业集群？", "58 个")], budget)
    *_, answer = answerer.stream("q", "q", DOCS, budget, extractive_stub)
    assert llm.calls == 2 and answer.mode == "extractive"
    assert budget.failure == "无法连接"


# --- through the Assistant, over the real report index -------------------------------------


def test_assistant_streams_deltas_then_the_checked_answer(report_settings, report_index):
    from assistant.answer.chain import Assistant

    assistant = Assistant(report_settings, report_index, chat_model=QuotingModel())
    assert assistant.mode == "llm"
    *deltas, answer = assistant.stream("杭州有多少个产业集群？")
    assert "".join(deltas) == answer.answer and answer.answer.endswith("[1]。")
    assert answer.citations[0].chunk_id == answer.retrieved[0].chunk_id
    assert answer.answer[:-4] in answer.citations[0].text and answer.warnings == []
    assert {"retrieve", "answer", "total"} <= set(answer.timings_ms)
    with pytest.raises(UserError):
        assistant.stream("   ")


def test_extractive_mode_streams_its_answer_as_one_delta(report_assistant):
    assert report_assistant.mode == "extractive"
    delta, answer = report_assistant.stream("杭州有多少个产业集群？")
    assert delta == answer.answer and "124" in delta and answer.mode == "extractive"


def test_a_follow_up_is_condensed_by_the_model(report_settings, report_index):
    from assistant.answer.chain import Assistant

    llm = model("温州有多少个产业集群？", "温州 73 个[1]。")
    assistant = Assistant(report_settings, report_index, chat_model=llm)
    answer = assistant.ask("那它呢？", history=[("绍兴有多少个产业集群？", "绍兴 58 个[1]。")])
    condense_prompt = llm.prompts[0][1].content
    assert "问：绍兴有多少个产业集群？" in condense_prompt and "最新问题：那它呢" in condense_prompt
    assert answer.standalone_question.startswith("温州有多少个产业集群")
    assert "问题：温州有多少个产业集群" in llm.prompts[1][1].content
    assert "condense" in answer.timings_ms


def test_a_failed_condense_falls_back_to_the_rule_based_one(report_settings, report_index):
    from assistant.answer.chain import Assistant

    assistant = Assistant(report_settings, report_index, chat_model=FailingModel())
    answer = assistant.ask("那温州呢？", history=[("绍兴有多少个产业集群？", "绍兴 58 个。")])
    assert "温州" in answer.standalone_question and "73" in answer.answer
    assert answer.mode == "extractive" and len(answer.warnings) == 2
    assert "改写追问失败" in answer.warnings[0] and "已改用抽取式回答" in answer.warnings[1]
