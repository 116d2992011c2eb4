"""Draft items from feedback: validated, appended to a set of their role, and only inside the allowed folders."""

from __future__ import annotations

import json

import pytest

from assistant.errors import UserError
from assistant.evaluation.eval_drafts import append_items, build_item
from assistant.evaluation.evaluate import load_jsonl
from assistant.evaluation.sets import HELD_OUT
from conftest import make_settings


@pytest.fixture
def settings(tmp_path):
    s = make_settings(tmp_path, tmp_path / "corpus").model_copy(update={"evals_dir": tmp_path / "evals", "train_dir": tmp_path / "evals" / "train"})
    s.evals_dir.mkdir()
    return s


def draft(id_="fb-1", must="甲 | 乙", answerable=True):
    return build_item(id_, " 问题？ ", answerable, "参考", must, "", "feedback")


def test_a_draft_is_appended_as_one_valid_line_after_the_existing_items(settings):
    target = settings.evals_dir / "set.jsonl"
    target.write_text('{"id": "old", "question": "旧", "answerable": false}', encoding="utf-8")  # no final newline
    append_items(settings, str(target), [draft()], HELD_OUT)
    report = load_jsonl(target)
    assert report.errors == [] and [i.id for i in report.items] == ["old", "fb-1"]
    assert report.items[1].must_include == ["甲", "乙"] and report.items[1].question == "问题？"
    assert json.loads(target.read_text(encoding="utf-8").splitlines()[1])["category"] == "feedback"


def test_the_data_folder_is_allowed_and_a_missing_file_is_created(settings):
    path = append_items(settings, str(settings.data_dir / "drafts" / "new.jsonl"), [draft()], HELD_OUT)
    assert path.is_file() and len(load_jsonl(path).items) == 1


@pytest.mark.parametrize("where", ["../outside.jsonl", "/tmp/outside.jsonl", "evals_link/x.jsonl", "set.txt", ""])
def test_paths_outside_the_allowed_folders_or_not_jsonl_are_refused(settings, tmp_path, where):
    (settings.evals_dir / "evals_link").symlink_to(tmp_path.parent, target_is_directory=True)
    raw = where if where.startswith("/") or not where else str(settings.evals_dir / where)
    with pytest.raises(UserError):
        append_items(settings, raw, [draft()], HELD_OUT)
    assert not (tmp_path.parent / "outside.jsonl").exists() and not (tmp_path.parent / "x.jsonl").exists()


def test_a_duplicate_id_or_an_answerable_item_without_strings_is_refused(settings):
    target = str(settings.evals_dir / "set.jsonl")
    append_items(settings, target, [draft()], HELD_OUT)
    with pytest.raises(UserError, match="已经有 id 为 fb-1 的题目"):
        append_items(settings, target, [draft()], HELD_OUT)
    with pytest.raises(UserError, match="must_include"):
        draft(must=" | ")
    assert build_item("x", "问", False, "", "", "", "").must_include == []
    with pytest.raises(UserError, match="问题"):
        build_item("x", "  ", False, "", "", "", "")


@pytest.mark.parametrize(
    "name, message",
    [("a\x00.jsonl", "控制字符"), ("\ud800.jsonl", "代理字符"), ("长" * 100 + ".jsonl", "文件名太长")],
    ids=["nul", "lone-surrogate", "300-bytes"],
)
def test_a_target_name_the_file_system_cannot_take_is_one_chinese_line(settings, name, message):
    with pytest.raises(UserError, match=message) as refused:
        append_items(settings, str(settings.evals_dir / name), [draft()], HELD_OUT)
    assert "\n" not in str(refused.value) and list(settings.evals_dir.iterdir()) == []
