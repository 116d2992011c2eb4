"""The chat tab in a real browser: `assistant.api.create_app` served over HTTP on 127.0.0.1,
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import pytest

from assistant.feedback import FeedbackStore
from browser import BOT_MESSAGES, CITATIONS, SHOTS, ask, chromium_page
from live_server import running

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ui(report_settings, report_assistant, tmp_path_factory):
    """(settings, page) on a fresh data folder, the page already loaded."""
    settings = report_settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("ui-data")})
    with running(settings, report_assistant) as url, chromium_page(url) as page:
        yield settings, page


def test_an_answer_shows_its_cited_passage_and_a_follow_up_uses_the_history(ui):
    _, page = ui
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
    last_answer = page.locator(BOT_MESSAGES).last.inner_text()
    assert "73" in last_answer
    page.screenshot(path=str(SHOTS / "chat.png"), full_page=True)


def test_feedback_with_a_comment_is_stored(ui):
    settings, page = ui
    if page.locator(CITATIONS).count() == 0:
        ask(page, "杭州有多少个产业集群？", 0)
    page.locator("#chat button[aria-label='Dislike']").last.click()
    page.locator("#feedback-comment textarea").wait_for()
    page.locator("#feedback-comment textarea").fill("想看到各市的对比")
    page.locator("#feedback-save").click()
    page.get_by_text("说明已保存").wait_for()
    [stored] = FeedbackStore(settings.data_dir).list_feedback("down")
    assert stored.comment == "想看到各市的对比" and stored.question == "那温州呢？"
    assert stored.citations and "73" in stored.answer


def test_html_in_a_question_stays_text(ui):
    _, page = ui
    page.locator("#new-chat").click()
    page.wait_for_function(f"() => document.querySelectorAll('{CITATIONS}').length === 0")
    payload = '<img src=x onerror="window.__xss=1"><b>粗体</b>杭州有多少个产业集群？'
    ask(page, payload, 0)
    chat = page.locator("#chat")
    assert '<img src=x onerror="window.__xss=1"><b>粗体</b>' in chat.inner_text()
    assert chat.locator("img[src='x'], b:text('粗体')").count() == 0
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(SHOTS / "chat-html-as-text.png"), full_page=True)
