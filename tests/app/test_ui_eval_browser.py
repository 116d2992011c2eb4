"""The 评测 tab in a real browser: the real server (`assistant.app.api.create_app`) on 127.0.0.1, Debian's
Chromium through Playwright, at a laptop's size and a phone's. One small run with its Chinese
progress bar, a pass/fail filter, one row's detail, a comparison across sets, a draft item."""

from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.browser import SHOTS, SIZES, chromium_page, serious_violations
from support.live_server import running

pytestmark = pytest.mark.browser
# four questions on the real report; q-miss asks for a string no answer can contain, so it fails
EVAL_SET = [
    {"id": "q-hz", "question": "杭州有多少个产业集群？", "answerable": True, "must_include": ["124个"],
     "evidence": ["杭州 124 个"], "reference_answer": "杭州有 124 个产业集群。", "category": "fact"},
    {"id": "q-sx", "question": "绍兴有多少个产业集群？", "answerable": True, "must_include": ["58个"],
     "evidence": ["绍兴 58 个"], "reference_answer": "绍兴有 58 个产业集群。", "category": "fact"},
    {"id": "q-js", "question": "四川省有多少个产业集群？", "answerable": False, "category": "unanswerable"},
    {"id": "q-miss", "question": "温州有多少个产业集群？", "answerable": True, "must_include": ["一个不存在的<字符串>"],
     "reference_answer": "温州有 73 个产业集群。", "category": "<b>粗体类别</b>"},
]

# the rows Gradio's table shows, by their ids: its DOM rows are not a stable interface
SHOWS = "ids => ids.every(id => document.querySelector('#eval-table').innerText.includes(id))"


@pytest.fixture(scope="module")
def server(report_settings, report_assistant, tmp_path_factory):
    from assistant.evaluation.feedback import FeedbackStore

    root = tmp_path_factory.mktemp("ui_eval")
    (root / "evals").mkdir()
    (root / "evals" / "small.jsonl").write_text(
        "\n".join(json.dumps(item, ensure_ascii=False) for item in EVAL_SET) + "\n", encoding="utf-8"
    )
    settings = report_settings.model_copy(update={"data_dir": root / "data", "evals_dir": root / "evals", "train_dir": root / "evals" / "train"})
    (root / "evals" / "other.jsonl").write_text(json.dumps(EVAL_SET[0], ensure_ascii=False) + "\n", encoding="utf-8")
    store = FeedbackStore(settings.data_dir)
    store.comment(store.rate(report_assistant.ask("宁波有多少个产业集群？"), "down"), "宁波的数字要和台州对比")
    with running(settings, Slow(report_assistant)) as url:
        yield settings, url + "/"


class Slow:
    """The real assistant, a little slower to answer, so a 4-question run shows its progress bar."""

    def __init__(self, assistant) -> None:
        self.assistant = assistant

    def ask(self, *args, **kwargs):
        time.sleep(0.6)
        return self.assistant.ask(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.assistant, name)


@pytest.fixture(scope="module", params=list(SIZES))
def page(request, server):
    width, height = SIZES[request.param]
    with chromium_page(server[1], width=width, height=height, timeout_s=120) as page:
        page.get_by_role("tab", name="评测").click()
        yield page, request.param


def run_set(page, name: str, ids: list[str]) -> None:
    page.locator("#eval-set input").click()
    page.get_by_role("option", name=name).click()
    page.locator("#eval-run").click()


def test_a_run_fills_the_table_and_filters_and_details_work(page, server, tmp_path):
    settings, _ = server
    page, size = page
    run_set(page, "small.jsonl", EVAL_SET)
    # one bar, in Chinese: 「第 2/4 题」, not five 「2/4 steps」
    page.wait_for_function("() => /第 [1-3]\\/4 题/.test(document.body.innerText)", timeout=60_000)
    assert page.get_by_text(re.compile("steps")).count() == 0
    assert page.locator(".progress-text, .progress-level").filter(visible=True).count() <= 2
    page.screenshot(path=str(SHOTS / f"eval-progress-{size}.png"))
    page.wait_for_function(SHOWS, arg=["q-hz", "q-sx", "q-js", "q-miss"], timeout=300_000)
    summary = page.locator("#eval-summary")
    assert "评测集 <b>small.jsonl</b>" in summary.inner_html() and "共 4 题，未通过 1 题" in summary.inner_text()
    for name in ("答案准确率", "引用准确率", "首位命中率", "拒答准确率"):
        assert name in summary.inner_text()
    assert "answer_accuracy" not in summary.inner_text()
    # an id is one line, not a column of single characters
    cell = page.locator("#eval-table .body-cell.first-column span").filter(has_text="q-miss").first
    assert cell.evaluate("el => el.getClientRects().length === 1 && el.getBoundingClientRect().height < 40")
    table_text = page.locator("#eval-table").inner_text()
    assert "杭州有多少个产业集群？" in table_text and "<b>粗体类别</b>" in table_text  # markup shown as text

    page.locator("#eval-verdict").get_by_text("未通过", exact=True).click()
    page.wait_for_function(f"() => ({SHOWS})(['q-miss']) && !['q-hz', 'q-sx', 'q-js'].some(id => ({SHOWS})([id]))")

    # a cell's text sits in a wrapper and in the span inside it: the first visible one is the cell
    page.locator("#eval-table").get_by_text("温州有多少个产业集群？", exact=True).filter(visible=True).first.click()
    detail = page.locator("#eval-detail")
    detail.get_by_text("参考答案", exact=True).wait_for()
    assert "温州有 73 个产业集群。" in detail.inner_text()
    assert detail.locator("mark.missing").inner_text() == "一个不存在的<字符串>"
    assert detail.locator("b", has_text="粗体类别").count() == 0  # the category stayed text
    assert "[1]" in detail.locator(".pair").last.inner_text()  # the cited passages

    page.locator("#eval-verdict").get_by_text("全部", exact=True).click()
    page.wait_for_function(SHOWS, arg=["q-hz", "q-sx", "q-js", "q-miss"])
    page.screenshot(path=str(SHOTS / f"eval-tab-{size}.png"), full_page=True)
    assert serious_violations(page) == []

    kept = sorted((settings.data_dir / "eval_runs").iterdir())
    assert (kept[-1] / "report.html").is_file()
    with page.expect_download() as download:
        page.locator("#eval-download-csv").click()
    assert download.value.suggested_filename == f"{kept[-1].name}-results.csv"


def test_comparing_runs_of_different_sets_warns_with_the_items_in_common(page, server):
    settings, _ = server
    page, size = page
    before = {p.name for p in (settings.data_dir / "eval_runs").iterdir()}
    run_set(page, "other.jsonl", EVAL_SET[:1])
    page.wait_for_function(SHOWS, arg=["q-hz"], timeout=120_000)
    page.wait_for_function("() => !document.querySelector('#eval-table').innerText.includes('q-miss')")
    [other] = {p.name for p in (settings.data_dir / "eval_runs").iterdir()} - before
    small = max(before)
    page.locator("#eval-history").get_by_text("历史运行与对比").click()
    for box, run in (("#eval-run-a", small), ("#eval-run-b", other)):
        page.locator(f"{box} input").click()
        page.get_by_role("option", name=re.compile(run)).filter(visible=True).first.click()
    page.locator("#eval-compare").click()
    page.get_by_text("两边共有 1 道相同的题").first.wait_for()  # the toast, and the comparison itself
    page.wait_for_function("document.querySelector('#eval-comparison textarea').value.includes('评测集不同')")  # (the toast comes first)
    text = page.locator("#eval-comparison textarea").input_value()
    assert "评测集不同" in text and "答案准确率 answer_accuracy" in text
    page.screenshot(path=str(SHOTS / f"eval-compare-{size}.png"))


def test_downvoted_feedback_becomes_a_draft_item_in_the_data_folder(page, server):
    settings, _ = server
    page, size = page
    target = settings.data_dir / "feedback_drafts.jsonl"
    page.locator("#eval-feedback").get_by_text("👎 反馈 → 评测题").click()
    comment = page.locator("#feedback-table").get_by_text("宁波的数字要和台州对比", exact=True).filter(visible=True).first
    comment.scroll_into_view_if_needed()
    assert comment.evaluate(  # the 说明 column is in view beside its question, not 2,000 px below
        "el => { const r = el.getBoundingClientRect(); const t = document.querySelector('#feedback-table').getBoundingClientRect();"
        " return r.height > 0 && r.top >= t.top && r.bottom <= t.bottom && r.right <= window.innerWidth; }"
    )
    if target.exists():  # the phone run: the desktop run drafted this feedback already
        assert "✓ 已加入 feedback_drafts.jsonl" in page.locator("#feedback-table").inner_text()
        page.locator("#feedback-table").get_by_text("宁波有多少个产业集群？", exact=True).filter(visible=True).first.click()
        page.wait_for_function("document.querySelector('#draft-status textarea').value.includes('已经转成评测题')")
        page.locator("#draft-role").get_by_text("留出集", exact=True).click()
        page.wait_for_function("t => document.querySelector('#draft-target input').value === t", arg=str(target))
        page.locator("#draft-reference textarea").fill("参考答案草稿")
        page.locator("#draft-must textarea").fill("草稿甲")
        page.locator("#draft-save").click()
        page.get_by_text("同一个 id 只能出现一次").first.wait_for()  # a duplicate save says why, in Chinese
        assert len(target.read_text(encoding="utf-8").splitlines()) == 1
        page.screenshot(path=str(SHOTS / f"eval-drafts-{size}.png"))
        return
    page.locator("#eval-feedback").get_by_text("宁波有多少个产业集群？", exact=True).filter(visible=True).first.click()
    page.locator("#eval-feedback").get_by_text("宁波有多少个产业集群？", exact=True).filter(visible=True).first.click()
    question = page.locator("#draft-question textarea")
    page.wait_for_function("document.querySelector('#draft-question textarea').value.length > 0")
    assert question.input_value() == "宁波有多少个产业集群？"
    # a draft is a training item unless the trainer says otherwise
    assert page.locator("#draft-role").get_by_label("训练集", exact=True).is_checked()
    assert page.locator("#draft-target input").input_value() == str(settings.train_dir / "trainer.jsonl")
    page.locator("#draft-role").get_by_text("留出集", exact=True).click()
    page.wait_for_function("t => document.querySelector('#draft-target input').value === t", arg=str(target))
    page.locator("#draft-reference textarea").fill("参考答案草稿")
    page.locator("#draft-must textarea").fill("草稿甲 | 草稿乙")
    page.locator("#draft-save").click()
    page.wait_for_function("document.querySelector('#draft-status textarea').value.includes('已追加')")
    [line] = target.read_text(encoding="utf-8").splitlines()  # the data folder, not the checkout's evals/
    draft = json.loads(line)
    assert draft["question"] == "宁波有多少个产业集群？" and draft["must_include"] == ["草稿甲", "草稿乙"]
    assert not (settings.evals_dir / "feedback_drafts.jsonl").exists()
    page.wait_for_function("document.querySelector('#feedback-table').innerText.includes('✓ 已加入 feedback_drafts.jsonl')")

    page.locator("#draft-target input").fill("../../outside.jsonl")
    page.locator("#draft-target input").press("Enter")
    page.locator("#draft-id textarea").fill("another-id")
    page.locator("#draft-save").click()
    page.get_by_text("不在允许的文件夹内").first.wait_for()
    assert not (settings.evals_dir.parent.parent / "outside.jsonl").exists()
    page.screenshot(path=str(SHOTS / f"eval-drafts-{size}.png"))


@pytest.fixture(scope="module")
def big_run(server) -> str:
    """A kept run of 450 items (a, b, c, d over and over: a-0 … d-449), written once per server."""
    from support.run_factory import save_large_run

    save_large_run(server[0], "20240101-000000-0450", 450)
    return "20240101-000000-0450"


@contextmanager
def fresh_page(page, url: str, size: str):
    """A new page in the module's browser (one Playwright per process), on the 评测 tab."""
    width, height = SIZES[size]
    fresh = page.context.browser.new_page(viewport={"width": width, "height": height}, locale="en-US")
    try:
        fresh.set_default_timeout(120_000)
        fresh.goto(url)
        fresh.get_by_role("tab", name="评测").click()
        yield fresh
    finally:
        fresh.close()


def test_a_big_run_opens_a_page_at_a_time_and_a_row_on_a_later_page_shows_its_item(page, server, big_run):
    page, size = page
    with fresh_page(page, server[1], size) as page:
        page.locator("#eval-history").get_by_text("历史运行与对比").click()
        page.locator("#eval-past input").click()
        page.get_by_role("option", name=re.compile(big_run)).click()
        page.locator("#eval-history").get_by_role("button", name="打开").click()
        status = page.locator("#eval-page-status")
        status.get_by_text("第 1 / 3 页 · 显示第 1–200 题，共 450 题").wait_for()
        page.wait_for_function(SHOWS, arg=["a-0", "b-1"])  # (the table draws the rows in view)
        page.locator("#eval-next").click()
        status.get_by_text("第 2 / 3 页 · 显示第 201–400 题，共 450 题").wait_for()
        page.wait_for_function(f"() => ({SHOWS})(['a-200']) && !({SHOWS})(['b-1'])")
        page.locator("#eval-verdict").get_by_text("未通过", exact=True).click()  # a and c fail: 225 rows
        status.get_by_text("第 1 / 2 页 · 显示第 1–200 题，共 225 题").wait_for()
        page.locator("#eval-page input").fill("2")
        page.locator("#eval-page input").press("Enter")
        status.get_by_text("第 2 / 2 页 · 显示第 201–225 题，共 225 题").wait_for()
        page.wait_for_function(SHOWS, arg=["a-400", "c-402"])  # failures 201 and 202: items 401 and 403
        page.locator("#eval-table").get_by_text("c-402", exact=True).filter(visible=True).first.click()
        detail = page.locator("#eval-detail")
        detail.get_by_text("参考答案", exact=True).wait_for()
        assert 'data-id="c-402"' in detail.inner_html() and 'id="item-403"' in detail.inner_html()
        page.screenshot(path=str(SHOTS / f"eval-tab-pages-{size}.png"), full_page=True)


@pytest.mark.parametrize(
    "content, message",
    [(b"\xff\xfe\x00garbage\x81\x82" * 50, "is neither UTF-8 nor GB18030 text"),
     ('{"id": "x", "question": "", "answerable": true}\n'.encode(), "no valid items in")],
    ids=["binary", "no-valid-rows"],
)
def test_an_upload_that_cannot_be_evaluated_is_named_by_its_own_name_not_a_server_path(page, server, tmp_path, content, message):
    from gradio.utils import get_upload_folder

    page, size = page
    upload = tmp_path / "my set.jsonl"
    upload.write_bytes(content)
    with fresh_page(page, server[1], size) as page:
        page.locator("#eval-upload input[type=file]").set_input_files(str(upload))
        page.wait_for_function("document.querySelector('#eval-upload-status textarea')?.value.includes('已收到 my set.jsonl')")
        page.locator("#eval-run").click()
        toast = page.get_by_text(message)
        toast.wait_for()
        shown = toast.inner_text()
    assert shown.startswith(f"my set.jsonl {message}") or f"{message} my set.jsonl" in shown, shown
    assert str(Path(get_upload_folder())) not in shown and "/tmp" not in shown
