"""The check that suggested follow-ups are answered, shared by the rules' and the trained model's tests."""

from __future__ import annotations

from assistant.app.suggest import FollowUps
from assistant.ingest.chunk import PATH_SEPARATOR

ASKED = ["杭州有多少个产业集群？", "我省产业集群存在哪些主要问题？", "怎样发展新兴产业集群？"]


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
