"""The trainer's loop in a real browser, on the real served app (`assistant.app.api.create_app` over
HTTP, Debian's Chromium through Playwright), at a laptop's size and a phone's: run a held-out
set → pick a failure → add a training item with its evidence → 「重新训练」 → run it again → the
comparison shows the item fixed, and the model never trained on the held-out set.

The corpus is a small made-up report (`tiny_report`) with e5 embeddings and a small training
set, so a retrain takes seconds. Each step's time is printed (`pytest -s` shows it).
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager

import pytest

from support.browser import SHOTS, SIZES, chromium_page, serious_violations
from support.live_server import running
from support.tiny_report import HELD_OUT, TALENT_EVIDENCE, TALENT_POLICY, copied, write_set

pytestmark = pytest.mark.browser
FAILING = "h-talent-keep"
SHOWS = "ids => ids.every(id => document.querySelector('#eval-table').innerText.includes(id))"
DONE = "() => !document.querySelector('#eval-summary .pending, #eval-retrain-status .pending')"


@contextmanager
def served_copy(tiny_trained, where):
    """The trained tiny report copied to `where` (its own index, sets and data), served."""
    from assistant.answer.chain import Assistant

    settings = copied(tiny_trained, where)
    assistant = Assistant(settings)
    with running(settings, assistant) as url:
        yield settings, assistant, url + "/"


@contextmanager
def timed(steps: dict, name: str):
    started = time.perf_counter()
    yield
    steps[name] = time.perf_counter() - started


def run_held_out(page) -> None:
    page.locator("#eval-set input").click()
    page.get_by_role("option", name="held.jsonl · 留出集").click()
    page.locator("#eval-run").click()
    page.wait_for_function(SHOWS, arg=[i["id"] for i in HELD_OUT], timeout=120_000)
    page.wait_for_function(DONE)


@pytest.mark.parametrize("size", list(SIZES))
def test_a_trainer_fixes_a_failed_held_out_item_without_training_on_the_held_out_set(tiny_trained, tmp_path, size):
    width, height = SIZES[size]
    steps: dict[str, float] = {}
    with served_copy(tiny_trained, tmp_path / "tiny") as (settings, assistant, url), \
            chromium_page(url, width=width, height=height, timeout_s=120) as page:
        page.get_by_role("tab", name="评测").click()
        page.wait_for_function("document.querySelector('#eval-model textarea').value.includes('11 题')")

        with timed(steps, "1 run the held-out set"):
            run_held_out(page)
        summary = page.locator("#eval-summary").inner_text()
        assert "held.jsonl（留出集）" in summary and "作答模型：训练数据" in summary and "11 题" in summary

        with timed(steps, "2 pick a failure"):
            page.locator("#eval-verdict").get_by_text("未通过", exact=True).click()
            page.wait_for_function(f"() => ({SHOWS})(['{FAILING}']) && !({SHOWS})(['h-platform'])")
            page.locator("#eval-table").get_by_text(FAILING, exact=True).filter(visible=True).first.click()
            page.locator("#train-add").wait_for()
            question = page.locator("#train-question textarea")
            page.wait_for_function("document.querySelector('#train-question textarea').value.length > 0")
        held_question = next(i["question"] for i in HELD_OUT if i["id"] == FAILING)
        assert question.input_value() == held_question  # prefilled
        evidence = page.locator("#train-evidence")
        assert evidence.get_by_label(TALENT_EVIDENCE, exact=True).is_checked()  # the set's own evidence, picked
        assert "这道题出自留出集" in page.locator("#train-add-status textarea").input_value()  # warned first
        page.screenshot(path=str(SHOTS / f"train-pick-{size}.png"), full_page=True)

        target = settings.train_dir / "trainer.jsonl"
        page.locator("#train-add-button").click()  # the held-out question as it stands: refused
        page.get_by_text("先别加").first.wait_for()
        assert not target.exists()
        # read and closed, as an official would: an error toast stays about 10 s, about as long as
        # the tiny retrain below, and the page is judged with axe at the end, at rest
        page.get_by_test_id("toast-close").first.click()
        page.get_by_text("先别加").first.wait_for(state="hidden")
        with timed(steps, "3 add the training item"):
            question.fill(TALENT_POLICY)
            evidence.get_by_label(TALENT_EVIDENCE, exact=True).check()
            page.locator("#train-add-button").click()
            page.wait_for_function("document.querySelector('#train-add-status textarea').value.includes('已加入')")
        assert target.is_file() and TALENT_POLICY in target.read_text(encoding="utf-8")

        with timed(steps, "4 retrain"):
            page.locator("#eval-retrain").click()
            page.wait_for_function("() => /第 [1-5]\\/5 步/.test(document.body.innerText)", timeout=60_000)
            page.screenshot(path=str(SHOTS / f"train-retraining-{size}.png"))
            page.wait_for_function("document.querySelector('#eval-retrain-status textarea').value.includes('已换用新模型')",
                                   polling=500, timeout=300_000)  # (polling every frame took CPU from the training)
        assert "12 题" in page.locator("#eval-model textarea").input_value()

        with timed(steps, "5 rerun the held-out set"):
            page.locator("#eval-verdict").get_by_text("全部", exact=True).click()
            run_held_out(page)
        assert "12 题" in page.locator("#eval-summary").inner_text()

        with timed(steps, "6 compare"):
            page.locator("#eval-history").get_by_text("历史运行与对比").click()
            page.locator("#eval-compare").click()  # A and B are the two runs of the set, chosen already
            page.wait_for_function("document.querySelector('#eval-comparison textarea').value.includes('修好了')")
        text = page.locator("#eval-comparison textarea").input_value()
        fixed = text.split("修好了 fixed", 1)[1].split("改坏了 broken", 1)[0]
        assert FAILING in fixed and "改坏了 broken (0)" in text
        assert re.search(r"A .*\n.*11 题", text) and re.search(r"B .*\n.*12 题", text)
        page.locator("#eval-comparison").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"train-compare-{size}.png"), full_page=True)
        assert serious_violations(page) == []

    from assistant.evaluation import sets

    trained_on = assistant.engine.model_meta
    assert not {i["id"] for i in HELD_OUT} & set(trained_on["question_ids"])
    assert not {sets.question_key(i["question"]) for i in HELD_OUT} & set(trained_on["question_keys"])
    assert trained_on["files"] == ["train.jsonl", "trainer.jsonl"]
    print(f"\ntrainer loop, {size}: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items()))


def test_the_coverage_and_the_drafts_a_model_wrote_are_reviewed_in_the_tab(tiny_trained, tmp_path):
    from assistant.learn import training_data

    drafts = [{"id": f"gen-{n}", "question": q, "answerable": True, "evidence": ["甲市有 30 个产业集群，年产值 500 亿元。"],
               "category": "generated"} for n, q in enumerate(["甲市集群产值<b>多大</b>？", "甲市那边一年产出多少"])]
    with served_copy(tiny_trained, tmp_path / "tiny") as (settings, assistant, url):
        write_set(training_data.drafts_file(settings), drafts)
        with chromium_page(url, width=SIZES["desktop"][0], height=SIZES["desktop"][1], timeout_s=60) as page:
            page.get_by_role("tab", name="评测").click()
            page.locator("#train-data").get_by_text("训练数据：覆盖与待审草稿").click()
            page.wait_for_function("document.querySelector('#train-coverage-note textarea').value.includes('句可引用的句子')")
            assert "索引中共 6 句可引用的句子，其中 0 句还没有训练题" in page.locator("#train-coverage-note textarea").input_value()
            box = page.locator("#train-drafts")
            box.get_by_text("甲市集群产值<b>多大</b>？", exact=False).wait_for()  # markup shown as text
            assert box.locator("b").count() == 0
            box.get_by_label(re.compile("甲市那边一年产出多少")).check()
            page.locator("#train-accept").click()
            page.wait_for_function("document.querySelector('#train-drafts-status textarea').value.includes('已把 1 道草稿题加入训练集')")
            page.wait_for_function("!document.querySelector('#train-drafts').innerText.includes('甲市那边一年产出多少')")
            page.screenshot(path=str(SHOTS / "train-drafts-desktop.png"), full_page=True)
    assert [d.id for d in training_data.pending(settings)] == ["gen-0"]
    assert "gen-1" in (settings.train_dir / "trainer.jsonl").read_text(encoding="utf-8")
