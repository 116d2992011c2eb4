"""Evaluation sets as CSV: the JSONL columns, `|`-separated lists, bad rows reported and skipped."""

from __future__ import annotations

import pytest

from assistant.errors import UserError
from assistant.evaluation.evaluate import load_csv, load_eval_set

HEADER = "id,question,answerable,must_include,evidence,reference_answer,category,history\n"


def test_list_cells_split_on_pipes_and_history_is_json(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text(
        HEADER
        + "1,杭州有多少个产业集群？,true,124个 | 3380亿元,杭州 124 个,有 124 个,fact,\n"
        + '2,那温州呢？,true,73个,,,multiturn,"[[""绍兴有多少个？"", ""58 个""]]"\n'
        + "3,江苏呢？,false,,,,unanswerable,\n",
        encoding="utf-8-sig",  # as Excel saves it
    )
    report = load_eval_set(path)
    assert report.errors == []
    first, second, third = report.items
    assert first.must_include == ["124个", "3380亿元"] and first.evidence == ["杭州 124 个"]
    assert first.answerable is True and first.category == "fact" and first.history == []
    assert second.history == [("绍兴有多少个？", "58 个")]
    assert third.answerable is False and third.must_include == [] and third.reference_answer is None


def test_gb18030_files_from_chinese_excel_load_too(tmp_path):
    path = tmp_path / "set.csv"
    path.write_bytes((HEADER + "1,杭州有多少个产业集群？,true,124个,,,fact,\n").encode("gb18030"))
    assert load_csv(path).items[0].question == "杭州有多少个产业集群？"


def test_bad_rows_are_reported_with_line_and_field_and_skipped(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text(
        HEADER
        + "1,好问题,true,,,,,\n"  # line 2: fine
        + '2,"跨两行的\n问题",maybe,,,,,\n'  # lines 3-4: answerable is not a boolean
        + "3,,true,,,,,\n"  # line 5: no question
        + ",,,,,,,\n"  # line 6: blank row, ignored
        + "4,问,true,,,,,not json\n"  # line 7: history
        + "5,问,true,,,,,,extra\n"  # line 8: too many cells
        + "6,最后一题,false,,,,,\n",  # line 9: fine
        encoding="utf-8",
    )
    report = load_csv(path)
    assert [i.id for i in report.items] == ["1", "6"]
    assert report.errors[0].startswith("line 3: answerable:")
    assert report.errors[1].startswith("line 5: question:")
    assert report.errors[2].startswith("line 7: history:")
    assert report.errors[3] == "line 8: row: more cells than the header has columns"
    assert len(report.errors) == 4


def test_a_set_with_no_valid_row_is_one_clear_error(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text(HEADER + "1,问,perhaps,,,,,\n", encoding="utf-8")
    with pytest.raises(UserError, match="no valid items.*line 2: answerable"):
        load_eval_set(path)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(UserError, match="no valid items"):
        load_eval_set(empty)
