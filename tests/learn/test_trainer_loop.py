"""The trainer's loop below the page (the whole loop through the page is test_ui_train_browser.py):
what the training form refuses, a retrain in a serving process that switches the model without
breaking questions in flight, a held-out set unusable on a model that trained on it, and a chat
model drafting training questions for sentences that have none.

A small made-up report (`tiny_report`) indexed with e5 and trained once for the session
(conftest's `tiny_trained`); each test works on its own copy of it.
"""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest

from support import cli_runner
from assistant.app import ui_train
from assistant.errors import UserError
from assistant.evaluation import eval_drafts, keep, runs, sets
from assistant.evaluation.evaluate import load_eval_set
from assistant.learn import training_data
from support.fake_openai_server import FakeOpenAI
from support.live_server import running
from support.tiny_report import FOLDERS, HELD_OUT, TALENT_EVIDENCE, TALENT_POLICY, copied

FAILING = "h-talent-keep"


@pytest.fixture
def tiny(tiny_trained, tmp_path):
    """This test's copy of the trained tiny report: its own index, sets and data folder."""
    return copied(tiny_trained, tmp_path / "tiny")


def env_of(settings) -> dict[str, str]:
    return {f"ASSISTANT_{name.upper()}": str(getattr(settings, name)) for name in (*FOLDERS, "embedding")}


def held_out_run(assistant, settings) -> runs.KeptRun:
    path = settings.evals_dir / "held.jsonl"
    planned = keep.plan_run(assistant, path, load_eval_set(path), path.name)
    return runs.KeptRun(keep.keep_run(settings, planned))


def failed_item(run: runs.KeptRun, item_id: str) -> runs.RunItem:
    row = next(r for r in run.rows() if r.id == item_id)
    assert not row.correct, f"{item_id} passed before any training: the tiny report no longer tests the loop"
    return run.item(row.at)


def test_a_training_item_the_form_cannot_make_is_one_chinese_line(tiny):
    from assistant.answer.chain import Assistant

    item = failed_item(held_out_run(Assistant(tiny), tiny), FAILING)
    for question, evidence, message in [
        ("  ？ ", TALENT_EVIDENCE, "问题不能为空"),
        (TALENT_POLICY, None, "先在下面选出回答这个问题的原文句子"),
        ("问" * 101, TALENT_EVIDENCE, "问题太长（101 字，最多 100 字）"),
    ]:
        with pytest.raises(UserError, match=re.escape(message)):
            training_data.from_scored(item, question, evidence, 100)


def test_the_cli_refuses_a_held_out_set_its_model_trained_on_and_compares_runs_by_model(tiny):
    env = env_of(tiny)
    first = cli_runner.run("eval", "--set", str(tiny.evals_dir / "held.jsonl"), env=env)
    assert first.returncode == 0, first.stderr
    taught = {**HELD_OUT[0], "id": "copied"}  # a held-out question copied into training, confirmed
    eval_drafts.append_items(tiny, str(tiny.train_dir / "train.jsonl"), [load_item(taught)], sets.TRAINING, confirmed=True)
    assert cli_runner.run("tune", env=env).returncode == 0
    refused = cli_runner.run("eval", "--set", str(tiny.evals_dir / "held.jsonl"), env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "held.jsonl 是留出集" in refused.stderr and "h-rd-money" in refused.stderr and len(refused.stderr.splitlines()) == 1
    dropped = cli_runner.run("eval", "--set", str(tiny.evals_dir / "held.jsonl"), "--drop-trained", "--json", env=env)
    assert dropped.returncode == 0 and "skipped" in dropped.stderr and "h-rd-money" in dropped.stderr
    assert len(json.loads(dropped.stdout)["items"]) == len(HELD_OUT) - 1
    listed = cli_runner.run("eval", "runs", env=env).stdout.splitlines()
    assert "未训练" not in listed[0] and "12 题" in listed[0] and "11 题" in listed[1]
    newest, oldest = listed[0].split()[0], listed[1].split()[0]
    compared = cli_runner.run("eval", "compare", oldest, newest, env=env).stdout
    assert "held.jsonl（留出集）" in compared and "11 题" in compared and "12 题" in compared


def load_item(raw: dict):
    from assistant.evaluation.evaluate import EvalItem

    return EvalItem(**raw)


def test_a_retrain_while_serving_answers_questions_in_flight_with_the_old_model_and_refuses_a_second(tiny):
    from assistant.answer.chain import Assistant

    assistant = Assistant(tiny)
    question = next(i["question"] for i in HELD_OUT if i["id"] == FAILING)
    old = assistant.ask(question).answer
    eval_drafts.append_items(tiny, eval_drafts.default_target(tiny, sets.TRAINING),
                             [load_item({"id": "t", "question": TALENT_POLICY, "answerable": True, "evidence": [TALENT_EVIDENCE]})],
                             sets.TRAINING)
    in_flight = assistant.stream(question)  # started on the old model, read after the switch
    answered, failures, done = [], [], threading.Event()
    refused: list[str] = []

    with running(tiny, assistant) as url:
        def keep_asking() -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                while not done.is_set():
                    response = client.post("/api/ask", json={"question": question})
                    (answered if response.status_code == 200 else failures).append(response)

        asker = threading.Thread(target=keep_asking)
        asker.start()

        steps: list[str] = []

        def progress(step: str, finished: int, total: int) -> None:
            steps.append(step)
            if step == "交叉训练" and not refused:  # a second 「重新训练」 while this one trains
                with pytest.raises(UserError) as second:
                    ui_train.retrain(assistant, tiny, lambda *_: None)
                refused.append(str(second.value))

        try:
            ui_train.retrain(assistant, tiny, progress)
            switched = len(answered)
            deadline = time.monotonic() + 60
            while len(answered) < switched + 2 and not failures:  # a question asked after the switch is answered
                assert asker.is_alive() and time.monotonic() < deadline
                done.wait(0.05)
        finally:
            done.set()
            asker.join(60)
    assert list(dict.fromkeys(steps)) == ["问题向量化", "交叉训练", "训练排序器与拒答器", "训练查询适配器", "保存模型"]
    assert refused == ["另一次训练或索引构建正在进行，请等它结束后再试"]
    assert failures == [] and len(answered) >= 2
    *_, kept = in_flight
    assert kept.answer == old and TALENT_EVIDENCE not in old
    assert TALENT_EVIDENCE.rstrip("。") in answered[-1].json()["answer"]
    assert TALENT_EVIDENCE.rstrip("。") in assistant.ask(question).answer


NEW_SENTENCES = ["庚镇的电商直播带动了当地服装销售。", "辛村把闲置厂房改造成了创业园。"]
NEW_DOCUMENT = "# 补充材料\n\n## 一、新情况\n\n" + "".join(NEW_SENTENCES) + "\n"


def drafting(request: dict) -> str:
    """A stand-in model: four numbered questions, the first repeated, about whatever it was sent."""
    sentence = request["messages"][-1]["content"].rsplit("原文：", 1)[-1]
    return f"1. {sentence[:4]}那事咋样？\n2、{sentence[:4]}是怎么回事？\n- {sentence[:4]}那事咋样？\n3) 关于{sentence[:3]}有啥说法\n4. 多出来的一题？"


def test_a_chat_model_drafts_questions_for_sentences_without_one_and_the_trainer_reviews_them(tiny):
    from assistant.index.build import build_index

    (tiny.corpus_dir / "new.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    build_index(tiny)
    env = env_of(tiny)
    offline = cli_runner.run("tune", "--generate", env=env)
    assert offline.returncode == 2 and "ASSISTANT_LLM_BASE_URL" in offline.stderr and "评测" in offline.stderr
    with FakeOpenAI(drafting) as server:
        made = cli_runner.run("tune", "--generate", env={**env, "ASSISTANT_LLM_BASE_URL": server.url})
        again = cli_runner.run("tune", "--generate", env={**env, "ASSISTANT_LLM_BASE_URL": server.url})
    assert made.returncode == 0 and again.returncode == 0, made.stderr + again.stderr
    sent = [r["messages"][-1]["content"].rsplit("原文：", 1)[-1] for r in server.requests]
    assert sorted(sent) == sorted(NEW_SENTENCES)  # the new document's sentences, once each, none the training covers
    assert "口语化" in server.requests[0]["messages"][0]["content"]
    drafts = training_data.pending(tiny)
    assert len(drafts) == 6 and {d.evidence[0] for d in drafts} == set(NEW_SENTENCES)
    assert all(d.answerable and d.category == "generated" and not d.question[0].isdigit() for d in drafts)
    assert sets.training_files(tiny) == [tiny.train_dir / "train.jsonl"]  # nothing trains on a draft
    target = training_data.accept(tiny, [d.id for d in drafts[:2]])
    assert [i.id for i in load_eval_set(target).items] == [d.id for d in drafts[:2]] and target in sets.training_files(tiny)
    assert training_data.discard(tiny, [d.id for d in drafts[2:]]) == 4 and training_data.pending(tiny) == []
    uncovered = {u.text for u in training_data.coverage(tiny, indexed_units(tiny)).uncovered}
    assert uncovered == set(NEW_SENTENCES) - {drafts[0].evidence[0]}  # the accepted drafts covered their sentence


def indexed_units(settings):
    from assistant.index.manifest import current_build
    from assistant.index.sentence_index import read_units

    return read_units(current_build(settings.persist_dir))[0]


def test_a_model_that_fails_midway_keeps_the_drafts_written_before_and_says_so_in_one_line(tiny):
    from assistant.index.build import build_index

    (tiny.corpus_dir / "new.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    build_index(tiny)

    def once_then_failing(request: dict) -> str:
        server.status = 500  # every later call fails
        return drafting(request)

    with FakeOpenAI(once_then_failing) as server:
        failed = cli_runner.run("tune", "--generate", env={**env_of(tiny), "ASSISTANT_LLM_BASE_URL": server.url})
    assert failed.returncode == 2 and "Traceback" not in failed.stderr and len(failed.stderr.splitlines()) == 1
    assert "语言模型调用失败（HTTP 500），已为 1 句写了 3 道草稿题" in failed.stderr
    assert len(training_data.pending(tiny)) == 3
