"""Concurrency and durability: stores survive SIGKILL mid-write; the API serves parallel clients.

A writer process saves records in a loop and prints each id only after the store returned;
the test kills it with SIGKILL at an arbitrary moment and then reads the store back: every
acknowledged record is there and intact, and nothing half-written is listed.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from assistant.answer_models import Answer
from assistant.evaluation.feedback import FeedbackStore

TESTS = Path(__file__).resolve().parent.parent  # tests/, where support/ is

FEEDBACK_WRITER = """
import sys
from assistant.answer_models import Answer, Citation
from assistant.evaluation.feedback import FeedbackStore

store = FeedbackStore(sys.argv[1])
citation = Citation(n=1, chunk_id="c1", source="r.md", section="一、总论", text="杭州 124 个。" * 40, score=1.0)
for i in range(100_000):
    answer = Answer(question=f"问题 {i}", answer=f"回答 {i}[1]", answerable=True, citations=[citation])
    feedback_id = store.rate(answer, "down" if i % 2 else "up")
    store.comment(feedback_id, f"说明 {i}")
    print(i, feedback_id, flush=True)
"""

CONVERSATION_WRITER = """
import sys
from assistant.answer_models import Answer, Citation
from assistant.app.conversation_store import ConversationStore

store = ConversationStore(sys.argv[1])
citation = Citation(n=1, chunk_id="c1", source="r.md", section="一、总论", text="杭州 124 个。" * 40, score=1.0)
conversation = None
for i in range(100_000):
    answer = Answer(question=f"问题 {i}", answer=f"回答 {i}[1]", answerable=True, citations=[citation])
    conversation = store.append("browser:writer", conversation, answer)
    print(i, conversation, flush=True)
"""

RUN_WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from assistant.settings import Settings
from support.run_factory import MIXED, save_run

settings = Settings(data_dir=sys.argv[1])
for i in range(0xFFFF):
    run_id = f"20250101-000000-{i:04x}"
    save_run(settings, run_id, MIXED)
    print(i, run_id, flush=True)
"""


def _write_until_killed(script: str, args: list[str], acknowledged: int) -> list[list[str]]:
    """Run a writer, SIGKILL it a moment after `acknowledged` records; the records it acknowledged."""
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acks: list[list[str]] = []
    try:
        for line in writer.stdout:
            acks.append(line.split())
            if len(acks) >= acknowledged:
                threading.Event().wait(random.uniform(0, 0.05))  # somewhere inside the next write
                break
        writer.kill()
        rest, err = writer.communicate()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -9, err
    acks += [line.split() for line in rest.splitlines() if line.strip()]
    return acks


@pytest.mark.parametrize("acknowledged", [1, 40])
def test_feedback_killed_mid_write_keeps_every_acknowledged_record(tmp_path, acknowledged):
    acks = _write_until_killed(FEEDBACK_WRITER, [str(tmp_path)], acknowledged)
    store = FeedbackStore(tmp_path)
    items = {item.id: item for item in store.list_feedback()}
    for i, feedback_id in acks:
        item = items[feedback_id]
        assert item.question == f"问题 {i}" and item.comment == f"说明 {i}"
        assert item.rating == ("down" if int(i) % 2 else "up") and item.citations[0].text.startswith("杭州")
    assert len(items) - len(acks) <= 1  # at most the record being written when the kill came
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # the store takes new ratings after the crash
    again = store.rate(Answer(question="再问", answer="没有找到。", answerable=False), "up")
    assert store.get(again).question == "再问"


@pytest.mark.parametrize("acknowledged", [1, 40])
def test_a_conversation_killed_mid_answer_keeps_every_acknowledged_turn(tmp_path, acknowledged):
    from assistant.app.conversation_store import ConversationStore

    acks = _write_until_killed(CONVERSATION_WRITER, [str(tmp_path)], acknowledged)
    store = ConversationStore(tmp_path)
    [listed] = store.conversations("browser:writer")
    answers = store.get("browser:writer", listed.id).answers
    assert {conversation for _, conversation in acks} == {listed.id}
    assert [a.question for a in answers[: len(acks)]] == [f"问题 {i}" for i, _ in acks]
    assert len(answers) - len(acks) <= 1  # at most the answer being written when the kill came
    assert all(a.citations[0].text.startswith("杭州") for a in answers)
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # the conversation goes on after the crash
    store.append("browser:writer", listed.id, Answer(question="再问", answer="没有找到。", answerable=False))
    assert store.get("browser:writer", listed.id).answers[-1].question == "再问"


@pytest.mark.parametrize("acknowledged", [8])
def test_eval_runs_killed_mid_write_keep_every_acknowledged_run_and_list_no_half_run(tmp_path, acknowledged):
    from assistant.evaluation.runs import list_runs, load
    from assistant.settings import Settings

    acks = _write_until_killed(RUN_WRITER, [str(tmp_path / "data"), str(TESTS)], acknowledged)
    settings = Settings(data_dir=tmp_path / "data")
    listed = [meta.id for meta in list_runs(settings)]
    acknowledged_ids = [run_id for _, run_id in acks]
    assert set(acknowledged_ids) <= set(listed)
    assert len(listed) - len(acknowledged_ids) <= 1
    for run_id in listed:
        stored = load(settings, run_id)
        folder = settings.data_dir / "eval_runs" / run_id
        assert {p.name for p in folder.iterdir()} == {
            "run.json", "meta.json", "items.jsonl", "rows.jsonl", "results.csv", "metrics.json", "report.html"
        }
        assert [item.id for item in stored.items()] == ["a", "b", "c", "d"]
