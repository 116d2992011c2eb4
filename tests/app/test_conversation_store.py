"""The conversation store: turns kept as the answers' own JSON, one list per owner, renames and
deletes checked, safe from threads and across a reopen (a killed writer: test_concurrency.py)."""

import sqlite3
import threading
from datetime import timezone

import pytest

from assistant.answer_models import Answer, Citation
from assistant.app.conversation_store import LISTED, MAX_TITLE_CHARS, ConversationStore, Gone, title_from
from assistant.errors import UserError

ANN, BOB = "user:ann", "browser:0123456789abcdef0123456789abcdef"


def _turn(question: str, n: int = 0) -> Answer:
    """An answer with everything the page renders: a citation with its quoted span, a warning."""
    passage = f"第{n}段：温州 73 个，年产值 1930 亿元。"
    return Answer(
        question=question, standalone_question=f"{question}（独立）", answer=f"回答 {n}[1]", answerable=True,
        citations=[Citation(n=1, chunk_id=f"c{n}", source="r.md", section="一 › （一）", text=passage, score=0.5,
                            highlights=[(3, 12)])],
        warnings=["数字请以原文为准"], timings_ms={"total": 3.5},
    )


def test_turns_come_back_as_the_same_answers_in_order(tmp_path):
    store = ConversationStore(tmp_path)
    first = store.append(ANN, None, _turn("杭州有多少个产业集群？", 1))
    assert store.append(ANN, first, _turn("那温州呢？", 2)) == first
    saved = store.get(ANN, first)
    assert saved.answers == (_turn("杭州有多少个产业集群？", 1), _turn("那温州呢？", 2))
    assert saved.title == "杭州有多少个产业集群？"
    [listed] = store.conversations(ANN)
    assert (listed.id, listed.title) == (first, saved.title) and listed.updated_at.tzinfo == timezone.utc


def test_the_list_is_newest_answered_first_and_capped(tmp_path):
    store = ConversationStore(tmp_path)
    ids = [store.append(ANN, None, _turn(f"问题 {i}")) for i in range(LISTED + 2)]
    store.append(ANN, ids[0], _turn("接着问"))  # answered last: now first
    listed = store.conversations(ANN)
    assert len(listed) == LISTED
    assert [c.id for c in listed[:3]] == [ids[0], ids[-1], ids[-2]]
    assert ids[1] not in {c.id for c in listed}  # the oldest is no longer listed, still stored
    assert store.get(ANN, ids[1]).title == "问题 1"


def test_titles_are_one_line_and_capped_and_renames_are_checked(tmp_path):
    store = ConversationStore(tmp_path)
    long_question = "  杭州\n有多少个\t产业集群？" + "很长" * 40
    conversation = store.append(ANN, None, _turn(long_question))
    title = store.conversations(ANN)[0].title
    assert title == title_from(long_question) and len(title) == MAX_TITLE_CHARS
    assert title.startswith("杭州 有多少个 产业集群？") and title.endswith("…")
    assert store.rename(ANN, conversation, "  温州\n对比  ") == "温州 对比"
    assert store.conversations(ANN)[0].title == "温州 对比"
    for bad, message in (("   ", "名称不能为空。"), ("长" * (MAX_TITLE_CHARS + 1), "名称太长")):
        with pytest.raises(UserError, match=message):
            store.rename(ANN, conversation, bad)
    assert store.conversations(ANN)[0].title == "温州 对比"
    xss = '<img src=x onerror="alert(1)">'
    assert store.rename(ANN, conversation, xss) == xss  # stored as typed: the page escapes it


def test_a_rename_does_not_reorder_the_list(tmp_path):
    store = ConversationStore(tmp_path)
    older = store.append(ANN, None, _turn("甲？"))
    newer = store.append(ANN, None, _turn("乙？"))
    store.rename(ANN, older, "改名")
    assert [c.id for c in store.conversations(ANN)] == [newer, older]


def test_delete_removes_the_conversation_and_a_vanished_id_is_a_chinese_user_error(tmp_path):
    store = ConversationStore(tmp_path)
    kept = store.append(ANN, None, _turn("甲？"))
    gone = store.append(ANN, None, _turn("乙？"))
    assert store.delete(ANN, gone) == "乙？"
    assert [c.id for c in store.conversations(ANN)] == [kept]
    with sqlite3.connect(store.path) as db:  # its turns went with it
        assert db.execute("SELECT COUNT(*) FROM turns WHERE conversation_id = ?", (gone,)).fetchone()[0] == 0
    for act in (lambda: store.delete(ANN, gone), lambda: store.get(ANN, gone), lambda: store.rename(ANN, gone, "新名")):
        with pytest.raises(Gone, match="^这个对话已不存在（可能已在别的窗口删除）。$"):
            act()
    # an answer to a conversation deleted meanwhile (in another window) begins a new one
    again = store.append(ANN, gone, _turn("丙？"))
    assert again != gone and store.get(ANN, again).title == "丙？"


def test_one_owner_never_reaches_anothers_conversations(tmp_path):
    store = ConversationStore(tmp_path)
    anns = store.append(ANN, None, _turn("安的问题？"))
    bobs = store.append(BOB, None, _turn("鲍勃的问题？"))
    assert [c.title for c in store.conversations(ANN)] == ["安的问题？"]
    assert [c.title for c in store.conversations(BOB)] == ["鲍勃的问题？"]
    for act in (lambda: store.get(BOB, anns), lambda: store.rename(BOB, anns, "抢来的"), lambda: store.delete(BOB, anns),
                lambda: store.get(ANN, bobs)):
        with pytest.raises(Gone):
            act()
    # appending with another's id starts one's own conversation, never adds to theirs
    mine = store.append(BOB, anns, _turn("鲍勃接着问？"))
    assert mine != anns and len(store.get(ANN, anns).answers) == 1
    assert store.get(ANN, anns).title == "安的问题？" and store.conversations(ANN)[0].id == anns


def test_everything_survives_reopening_the_store(tmp_path):
    store = ConversationStore(tmp_path)
    conversation = store.append(ANN, None, _turn("甲？", 1))
    store.rename(ANN, conversation, "改过的名字")
    reopened = ConversationStore(tmp_path)
    assert reopened.get(ANN, conversation).answers == (_turn("甲？", 1),)
    assert [c.title for c in reopened.conversations(ANN)] == ["改过的名字"]
    with sqlite3.connect(reopened.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_answers_finishing_at_once_in_threads_all_land_numbered_in_order(tmp_path):
    store = ConversationStore(tmp_path)
    shared = store.append(ANN, None, _turn("共用的对话？"))
    start, errors = threading.Barrier(8), []

    def worker(w: int) -> None:
        start.wait()
        try:
            own = None
            for i in range(10):
                store.append(ANN, shared, _turn(f"线程 {w} 第 {i} 问"))
                own = store.append(f"browser:{w:032x}", own, _turn(f"线程 {w} 自己的第 {i} 问"))
        except Exception as exc:  # collected: an exception in a thread would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    questions = [a.question for a in store.get(ANN, shared).answers]
    assert len(questions) == 81 and len(set(questions)) == 81
    for w in range(8):  # each thread's turns in the order it wrote them
        assert [q for q in questions if q.startswith(f"线程 {w} ")] == [f"线程 {w} 第 {i} 问" for i in range(10)]
        [own] = store.conversations(f"browser:{w:032x}")
        assert len(store.get(f"browser:{w:032x}", own.id).answers) == 10


def test_an_unusable_data_dir_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(UserError, match="conversation store"):
        ConversationStore(tmp_path / "file" / "data")
