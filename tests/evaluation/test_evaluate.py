"""Evaluation scoring: exactly the rules trainers rely on."""

from assistant.answer_models import Answer, Citation, Passage
from assistant.evaluation.evaluate import EvalItem, load_jsonl, score_item, summarise


def _answer(text, answerable=True, cited=("杭州 124 个，年产值 3380 亿元",), retrieved=("无关", "杭州 124 个，年产值 3380 亿元")):
    return Answer(
        question="q",
        answer=text,
        answerable=answerable,
        citations=[Citation(n=i + 1, chunk_id=f"c{i}", source="r.md", section="s", text=t, score=1.0) for i, t in enumerate(cited)],
        retrieved=[Passage(chunk_id=f"p{i}", source="r.md", section="s", text=t, score=1.0) for i, t in enumerate(retrieved)],
        timings_ms={"total": 10.0},
    )


ITEM = EvalItem(id="a", question="杭州有多少个产业集群？", answerable=True, must_include=["124个", "3380亿元"], evidence=["杭州 124 个"])
REFUSE = EvalItem(id="b", question="江苏呢？", answerable=False)


def test_an_answer_must_contain_every_required_string_after_normalisation():
    assert score_item(ITEM, _answer("杭州 124 个，年产值 3380 亿元。[1]")).correct
    result = score_item(ITEM, _answer("杭州 124 个。[1]"))
    assert not result.correct and result.missing == ["3380亿元"]


def test_full_width_digits_count_as_the_same_string():
    assert score_item(ITEM, _answer("杭州１２４个，年产值３３８０亿元")).correct


def test_a_declined_answer_is_wrong_for_an_answerable_item_and_right_for_an_unanswerable_one():
    declined = _answer("报告中没有找到。", answerable=False, cited=())
    assert not score_item(ITEM, declined).correct
    assert score_item(REFUSE, declined).correct
    assert not score_item(REFUSE, _answer("江苏有 5 个")).correct


def test_citation_and_retrieval_rank_come_from_the_evidence_strings():
    result = score_item(ITEM, _answer("124个 3380亿元"))
    assert result.citation_correct is True
    assert result.evidence_rank == 2
    wrong = score_item(ITEM, _answer("124个 3380亿元", cited=("别的段落",), retrieved=("a", "b")))
    assert wrong.citation_correct is False and wrong.evidence_rank is None


def test_metrics_summarise_answerable_and_unanswerable_items_separately():
    results = [
        score_item(ITEM, _answer("杭州 124 个，年产值 3380 亿元")),
        score_item(ITEM, _answer("不知道", answerable=False, cited=())),
        score_item(REFUSE, _answer("没有", answerable=False, cited=())),
    ]
    m = summarise(results)
    assert m.n == 3
    assert m.answer_accuracy == 0.5
    assert m.refusal_accuracy == 1.0
    assert m.hit_at_1 == 0.0 and m.hit_at_5 == 1.0 and m.mrr == 0.5


def test_bad_rows_are_reported_with_line_and_field_and_skipped(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"id": "1", "question": "问", "answerable": true}\n'
        "not json\n"
        '{"id": "3", "answerable": "maybe", "question": "问"}\n',
        encoding="utf-8",
    )
    report = load_jsonl(path)
    assert [i.id for i in report.items] == ["1"]
    assert report.errors[0].startswith("line 2:")
    assert any(e.startswith("line 3: answerable") for e in report.errors)


def test_a_blank_or_overlong_question_and_a_reused_id_are_skipped_by_line_and_the_rest_run(tmp_path):
    from assistant.evaluation.evaluate import load_eval_set

    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"id": "1", "question": "杭州有多少个产业集群？", "answerable": true}\n'
        '{"id": "2", "question": "   ", "answerable": true}\n'
        '{"id": "3", "question": "' + "长" * 50 + '", "answerable": true}\n'
        '{"id": "1", "question": "宁波呢？", "answerable": true}\n'
        '{"id": "4", "question": "温州呢？", "answerable": true}\n',
        encoding="utf-8",
    )
    report = load_eval_set(path, max_question_chars=40)
    assert [i.id for i in report.items] == ["1", "4"] and report.lines == [1, 5]
    assert report.errors == [
        "line 2: question: has no words in it",
        "line 3: question: too long (50 characters; the limit is 40)",
        "line 4: id: '1' is already used on line 1",
    ]


def test_a_binary_set_is_refused_in_one_line(tmp_path):
    import pytest

    from assistant.errors import UserError
    from assistant.evaluation.evaluate import load_eval_set

    path = tmp_path / "set.jsonl"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UserError, match="neither UTF-8 nor GB18030"):
        load_eval_set(path)
