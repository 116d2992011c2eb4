"""Exporting a conversation: Markdown that renders as exactly its text, and a Word file whose
text is the answers with numbered sources and their section paths (what 复制回答 gives)."""

from __future__ import annotations

from datetime import datetime

from docx import Document
from markdown_it import MarkdownIt

from assistant.answer.reply import reply_blocks, source_line
from assistant.app.export import conversation_markdown, md_escape, write_exports

HOSTILE = '<img src=x onerror="alert(1)"> **粗** [链接](http://x) # 1. - `码` & \\ 杭州有多少个产业集群？'
WHEN = datetime(2026, 11, 29, 13, 30)


def _answers(report_assistant):
    return [report_assistant.ask("杭州有多少个产业集群？"), report_assistant.ask(HOSTILE)]


def test_markdown_escapes_what_would_be_markup():
    for text in [HOSTILE, "- 不是列表", "1. 不是编号", "> 不是引用", "# 不是标题", "a_b_c *d* ~~e~~ |f|", "2) 不是编号", "  + 不是列表", "===", "&amp; 不是实体"]:
        html = MarkdownIt("commonmark").enable("strikethrough").enable("table").render(md_escape(text))
        assert html == f"<p>{_escape(text.strip())}</p>\n", (text, html)  # (a paragraph drops leading spaces)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def test_the_markdown_file_has_each_question_answer_and_numbered_sources(report_assistant):
    answers = _answers(report_assistant)
    markdown = conversation_markdown(answers, WHEN)
    html = MarkdownIt("commonmark").render(markdown)
    assert "<img" not in html and "<strong>粗" not in html and "<a " not in html  # the question stays text
    assert "<h2>2. 问：" + _escape(HOSTILE) + "</h2>" in html
    first = answers[0]
    assert first.citations and "一、产业集群现状 › （一）我省产业集群发展回顾" in first.citations[0].section
    for citation in first.citations:
        assert f"<li>{_escape(source_line(citation))}</li>" in html  # [n] section path：「quote」


def test_the_word_file_is_the_reply_text_with_numbered_sources(report_assistant, tmp_path):
    answers = _answers(report_assistant)
    markdown, docx = write_exports(answers, tmp_path / "conversation", WHEN)
    assert markdown.suffix == ".md" and docx.suffix == ".docx"
    paragraphs = [p.text for p in Document(str(docx)).paragraphs]
    assert paragraphs[0] == "问答记录" and paragraphs[2] == "1. 问：杭州有多少个产业集群？"
    assert f"2. 问：{HOSTILE}" in paragraphs  # text, as typed
    for answer in answers:
        body, sources = reply_blocks(answer)
        at = paragraphs.index(body[0].splitlines()[0].strip())
        assert paragraphs[at + 1 : at + 2 + len(sources)] == (["来源："] + sources if sources else [])[: 1 + len(sources)]
    assert any(p.startswith("[1] 一、产业集群现状 › （一）我省产业集群发展回顾") and "124" in p for p in paragraphs)
    bold = [r.text for p in Document(str(docx)).paragraphs for r in p.runs if r.bold]
    assert "[1]" in bold
    # a second export, later (so under other names), replaces the first: one pair per conversation
    write_exports(answers[:1], tmp_path / "conversation", WHEN.replace(minute=31))
    assert len(list((tmp_path / "conversation").iterdir())) == 2
