"""LLM mode in a real browser: the chat streams a model's answer piece by piece from a real
OpenAI-compatible server on 127.0.0.1, marks an answer whose numbers its passages do not hold
(with the extractive answer beside it), and shows a banner when the model fails."""

from __future__ import annotations

import pytest

from assistant.answer.chain import Assistant
from support.browser import BOT_MESSAGES, SHOTS, ask, chromium_page
from support.fake_openai_server import FakeOpenAI
from support.live_server import running

pytestmark = pytest.mark.browser

INVENTED = "杭州共有 999 个产业集群[1]。"

# every text the last answer showed, recorded as the page changes
RECORD_STREAM = (
    "sel => { window.__seen = new Set(); new MutationObserver(() => {"
    " const bots = document.querySelectorAll(sel); const last = bots[bots.length - 1];"
    " if (last) window.__seen.add(last.querySelector('.answer-text')?.innerText || ''); })"
    ".observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true}); }"
)


@pytest.fixture(scope="module")
def llm_ui(report_settings, report_index, tmp_path_factory):
    """(model server, page) for the app in LLM mode."""
    with FakeOpenAI(lambda request: INVENTED, chunk_chars=2, chunk_pause=0.15) as model:
        settings = report_settings.model_copy(update={
            "data_dir": tmp_path_factory.mktemp("llm-ui-data"), "llm_base_url": model.url, "llm_model": "qwen-test",
        })
        with running(settings, Assistant(settings, report_index)) as url, chromium_page(url) as page:
            yield model, page


def test_the_answer_streams_in_and_an_invented_number_is_marked_with_the_extractive_answer(llm_ui):
    _, page = llm_ui
    assert "大模型生成" in page.locator("#status-line").inner_text()
    page.locator("#chat").wait_for()  # Gradio renders the chat after the page's load event
    page.evaluate(RECORD_STREAM, BOT_MESSAGES)
    ask(page, "杭州有多少个产业集群？", 0)
    answer = page.locator(BOT_MESSAGES).last
    shown = answer.locator(".answer-text").inner_text()
    assert shown.startswith("杭州共有 999 个产业集群")
    partial = [t for t in page.evaluate("[...window.__seen]") if t and t != shown and shown.startswith(t)]
    assert len(partial) >= 3, partial  # pieces of the model's text appeared before the whole of it
    warning = answer.locator(".warnings[role=alert]")
    assert warning.is_visible() and "999" in warning.inner_text()
    assert "124" in answer.locator(".extractive").inner_text()  # the report's figure, beside it
    page.screenshot(path=str(SHOTS / "llm-grounding-warning.png"), full_page=True)


def test_a_failing_model_gives_the_extractive_answer_under_a_banner(llm_ui):
    model, page = llm_ui
    model.status = 500
    ask(page, "温州有多少个产业集群？", 1)
    answer = page.locator(BOT_MESSAGES).last
    banner = answer.locator(".warnings[role=alert]")
    assert banner.is_visible() and "已改用抽取式回答" in banner.inner_text()
    assert "73" in answer.locator(".answer-text").inner_text()
    page.screenshot(path=str(SHOTS / "llm-down-banner.png"), full_page=True)
