"""The 评测 tab in a real browser: the real server (`assistant.api.create_app`) on 127.0.0.1, Debian's
Chromium through Playwright. One small run, a pass/fail filter, one row's detail, a draft item."""

from __future__ import annotations

import json

import pytest

from browser import chromium_page
from live_server import running

pytestmark = pytest.mark.browser
# four questions on the real report; q-miss asks for a string no answer can contain, so it fails
EVAL_SET = [
    {"id": "q-hz", "question": "杭州有多少个产业集群？", "answerable": True, "must_include": ["124个"],
     "evidence": ["杭州 124 个"], "reference_answer": "杭州有 124 个产业集群。", "category": "fact"},
    {"id": "q-sx", "question": "绍兴有多少个产业集群？", "answerable": True, "must_include": ["58个"],
     "evidence": ["绍兴 58 个"], "reference_answer": "绍兴有 58 个产业集群。", "category": "fact"},
    {"id": "q-js", "question": "江苏省有多少个产业集群？", "answerable": False, "category": "unanswerable"},
    {"id": "q-miss", "question": "温州有多少个产业集群？", "answerable": True, "must_include": ["一个不存在的<字符串>"],
     "reference_answer": "温州有 73 个产业集群。", "category": "<b>粗体类别</b>"},
]

# the rows Gradio's table shows, by their ids: its DOM rows are not a stable interface
SHOWS = "ids => ids.every(id => document.querySelector('#eval-table').innerText.includes(id))"


@pytest.fixture(scope="module")
def server(report_settings, report_assistant, tmp_path_factory):
    from assistant.feedback import FeedbackStore

    root = tmp_path_factory.mktemp("ui_eval")
    (root / "evals").mkdir()
    (root / "evals" / "small.jsonl").write_text(
        "\n".join(json.dumps(item, ensure_ascii=False) for item in EVAL_SET) + "\n", encoding="utf-8"
    )
    settings = report_settings.model_copy(update={"data_dir": root / "data", "evals_dir": root / "evals"})
    downvoted = report_assistant.ask("宁波有多少个产业集群？")
    FeedbackStore(settings.data_dir).rate(downvoted, "down")
    with running(settings, report_assistant) as url:
        yield settings, url + "/"


@pytest.fixture(scope="module")
def page(server):
    with chromium_page(server[1], height=1500, timeout_s=120) as page:
        page.get_by_role("tab", name="评测").click()
        yield page


def test_a_run_fills_the_table_and_filters_and_details_work(page, server, tmp_path):
    settings, _ = server
    page.locator("#eval-run").click()
    page.wait_for_function(SHOWS, arg=["q-hz", "q-sx", "q-js", "q-miss"], timeout=300_000)
    assert "set <b>small.jsonl</b>" in page.locator("#eval-summary").inner_html()
    table_text = page.locator("#eval-table").inner_text()
    assert "杭州有多少个产业集群？" in table_text and "<b>粗体类别</b>" in table_text  # markup shown as text

    page.locator("#eval-verdict").get_by_text("未通过", exact=True).click()
    page.wait_for_function(f"() => ({SHOWS})(['q-miss']) && !['q-hz', 'q-sx', 'q-js'].some(id => ({SHOWS})([id]))")

    # a cell's text sits in a wrapper and in the span inside it: the first visible one is the cell
    page.locator("#eval-table").get_by_text("温州有多少个产业集群？", exact=True).filter(visible=True).first.click()
    detail = page.locator("#eval-detail")
    detail.get_by_text("参考答案 reference").wait_for()
    assert "温州有 73 个产业集群。" in detail.inner_text()
    assert detail.locator("mark.missing").inner_text() == "一个不存在的<字符串>"
    assert detail.locator("b", has_text="粗体类别").count() == 0  # the category stayed text
    assert "[1]" in detail.locator(".pair").last.inner_text()  # the cited passages

    page.locator("#eval-verdict").get_by_text("全部", exact=True).click()
    page.wait_for_function(SHOWS, arg=["q-hz", "q-sx", "q-js", "q-miss"])
    page.screenshot(path=str(tmp_path / "eval_tab.png"), full_page=True)

    kept = list((settings.data_dir / "eval_runs").iterdir())
    assert len(kept) == 1 and (kept[0] / "report.html").is_file()
    with page.expect_download() as download:
        page.locator("#eval-download-csv").click()
    assert download.value.suggested_filename == f"{kept[0].name}-results.csv"


def test_downvoted_feedback_becomes_a_draft_item_in_the_chosen_file(page, server):
    settings, _ = server
    page.locator("#eval-feedback").get_by_text("👎 反馈 → 评测题").click()
    page.locator("#eval-feedback").get_by_text("宁波有多少个产业集群？", exact=True).filter(visible=True).first.click()
    question = page.locator("#draft-question textarea")
    page.wait_for_function("document.querySelector('#draft-question textarea').value.length > 0")
    assert question.input_value() == "宁波有多少个产业集群？"
    page.locator("#draft-reference textarea").fill("参考答案草稿")
    page.locator("#draft-must textarea").fill("草稿甲 | 草稿乙")
    page.locator("#draft-save").click()
    page.wait_for_function("document.querySelector('#draft-status textarea').value.includes('已追加')")
    [line] = (settings.evals_dir / "feedback_drafts.jsonl").read_text(encoding="utf-8").splitlines()
    draft = json.loads(line)
    assert draft["question"] == "宁波有多少个产业集群？" and draft["must_include"] == ["草稿甲", "草稿乙"]

    page.locator("#draft-target input").fill("../../outside.jsonl")
    page.locator("#draft-target input").press("Enter")
    page.locator("#draft-id textarea").fill("another-id")
    page.locator("#draft-save").click()
    page.get_by_text("is outside the allowed folders").wait_for()
    assert not (settings.evals_dir.parent.parent / "outside.jsonl").exists()
