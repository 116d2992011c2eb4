"""Suggested follow-ups: every question offered under an answer is really answered, from the
section it names, also when asked inside the conversation (as a click asks it)."""

from __future__ import annotations

from assistant.app.suggest import FollowUps, outline_of
from assistant.ingest.chunk import PATH_SEPARATOR
from support.suggestions import assert_suggestions_answered


def test_the_outline_comes_from_the_index_in_document_order(report_assistant):
    (tree,) = outline_of(report_assistant.index.chunks).values()
    tops = [node[0] for node in tree[()]]
    assert tops == list(dict.fromkeys(c.section.split(PATH_SEPARATOR)[0] for c in report_assistant.index.chunks if c.section))
    for node, children in tree.items():
        assert all(child[:-1] == node for child in children)


def test_every_suggestion_is_answered_from_its_section_inside_the_conversation(report_assistant):
    assert_suggestions_answered(report_assistant)  # (with the trained model: test_learned_answers.py)


def test_a_declined_answer_gets_no_suggestions(report_assistant):
    declined = report_assistant.ask("四川省有多少个产业集群？")
    assert not declined.answerable and FollowUps(report_assistant).for_answer(declined) == []
