"""The feedback store: durable per click, readable back by rating, one row per rated answer."""

import multiprocessing
import os
import signal
import sqlite3

import pytest

from assistant.answer_models import Answer, Citation
from assistant.errors import UserError
from assistant.evaluation.feedback import FeedbackStore


def _answer(question="杭州有多少个产业集群？", text="杭州 124 个[1]") -> Answer:
    citation = Citation(
        n=1, chunk_id="c1", source="report.md", section="一、现状", text="杭州 124 个，年产值 3380 亿元", score=0.9,
        highlights=[(0, 8)],
    )
    return Answer(question=question, standalone_question=question, answer=text, answerable=True,
                  citations=[citation], mode="extractive")


def test_a_rating_is_read_back_with_question_answer_citations_mode_and_time(tmp_path):
    store = FeedbackStore(tmp_path / "data")
    feedback_id = store.rate(_answer(), "down")
    [item] = store.list_feedback()
    assert item.id == feedback_id and item.rating == "down"
    assert item.question == "杭州有多少个产业集群？" and item.answer == "杭州 124 个[1]"
    assert item.citations[0].highlights == [(0, 8)] and item.citations[0].section == "一、现状"
    assert item.mode == "extractive" and item.created_at.startswith("20")


def test_list_feedback_filters_by_rating(tmp_path):
    store = FeedbackStore(tmp_path)
    store.rate(_answer("甲？"), "up")
    store.rate(_answer("乙？"), "down")
    store.rate(_answer("丙？"), "down")
    assert [i.question for i in store.list_feedback(rating="down")] == ["乙？", "丙？"]
    assert [i.question for i in store.list_feedback(rating="up")] == ["甲？"]
    assert len(store.list_feedback()) == 3
    with pytest.raises(UserError):
        store.list_feedback(rating="meh")


def test_changing_a_rating_and_commenting_update_the_same_row(tmp_path):
    store = FeedbackStore(tmp_path)
    feedback_id = store.rate(_answer(), "up")
    assert store.rate(_answer(), "down", feedback_id) == feedback_id
    store.comment(feedback_id, "  数字不对  ")
    [item] = store.list_feedback()
    assert item.rating == "down" and item.comment == "数字不对"


def test_bad_input_is_a_user_error(tmp_path):
    store = FeedbackStore(tmp_path)
    with pytest.raises(UserError):
        store.rate(_answer(), "meh")
    with pytest.raises(UserError, match="before"):
        store.comment("no-such-id", "x")
    feedback_id = store.rate(_answer(), "up")
    with pytest.raises(UserError, match="too long"):
        store.comment(feedback_id, "长" * 5000)


def test_an_unusable_data_dir_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(UserError, match="feedback store"):
        FeedbackStore(tmp_path / "file" / "data")


def test_the_store_is_sqlite_in_wal_mode(tmp_path):
    store = FeedbackStore(tmp_path)
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _rate_then_hang(data_dir, ready):
    store = FeedbackStore(data_dir)
    store.rate(_answer(), "down")
    ready.set()
    signal.pause()  # killed here, right after the click


def test_a_click_survives_the_process_being_killed_right_after(tmp_path):
    ready = multiprocessing.get_context("fork").Event()
    process = multiprocessing.get_context("fork").Process(target=_rate_then_hang, args=(tmp_path, ready))
    process.start()
    assert ready.wait(60)
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    [item] = FeedbackStore(tmp_path).list_feedback(rating="down")
    assert item.question == "杭州有多少个产业集群？"
