"""Suggested follow-ups: every question offered under an answer is really answered, from the
section it names, also when asked inside the conversation (as a click asks it)."""

from __future__ import annotations

from assistant.app.suggest import FollowUps, outline_of
from assistant.ingest.chunk import PATH_SEPARATOR

ASKED = ["杭州有多少个产业集群？", "我省产业集群存在哪些主要问题？", "怎样发展新兴产业集群？"]


def test_the_outline_comes_from_the_index_in_document_order(report_assistant):
    (tree,) = outline_of(report_assistant.index.chunks).values()
    tops = [node[0] for node in tree[()]]
    assert tops == list(dict.fromkeys(c.section.split(PATH_SEPARATOR)[0] for c in report_assistant.index.chunks if c.section))
    for node, children in tree.items():
        assert all(child[:-1] == node for child in children)


def assert_suggestions_answered(assistant) -> None:
    """Ask every suggestion offered for a few answers, as a click asks it (after the answer)."""
    follow_ups = FollowUps(assistant)
    offered = 0
    for question in ASKED:
        answer = assistant.ask(question)
        suggestions = follow_ups.for_answer(answer, [question])
        assert 2 <= len(suggestions) <= 3, (question, suggestions)
        cited = [tuple(c.section.split(PATH_SEPARATOR)) for c in answer.citations]
        for suggestion in suggestions:
            node = tuple(suggestion.section.split(PATH_SEPARATOR))
            assert suggestion.question.endswith("讲了什么？") and node[-1][:6] in suggestion.question
            # a neighbour of a cited section: a sub-section, a sibling or the parent's sibling
            assert any(node[:-1] in (path, path[:-1], path[:-2]) for path in cited), (suggestion, cited)
            follow = assistant.ask(suggestion.question, history=[(question, answer.answer)])
            assert follow.answerable, (suggestion.question, follow.answer)
            assert any(c.section == suggestion.section or c.section.startswith(suggestion.section + PATH_SEPARATOR)
                       for c in follow.citations), (suggestion, [c.section for c in follow.citations])
            offered += 1
    print(f"\n{offered} suggestions asked and answered")


def test_every_suggestion_is_answered_from_its_section_inside_the_conversation(report_assistant):
    assert_suggestions_answered(report_assistant)  # (with the trained model: test_learned_answers.py)


def test_a_declined_answer_gets_no_suggestions(report_assistant):
    declined = report_assistant.ask("四川省有多少个产业集群？")
    assert not declined.answerable and FollowUps(report_assistant).for_answer(declined) == []
