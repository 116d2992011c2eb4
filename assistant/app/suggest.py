"""Suggested follow-ups: questions about the sections next to the one an answer cites.

The outline comes from the loaded index (every chunk carries its section path, in document
order), never from a list: a cited section's sub-sections, then its siblings, then its parent's
next sibling and the parent. Each becomes a simple question over the section's title, and
is offered only if the assistant really answers it from that section (asked once, remembered),
so a click never ends in a decline.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.answer_models import Answer
from assistant.errors import UserError
from assistant.ingest.chunk import PATH_SEPARATOR

Path = tuple[str, ...]
TEMPLATE = "报告里“{title}”讲了什么？"
MAX_TITLE_CHARS = 24  # a bold lead-in can run to a sentence; its first clause names it
_CLAUSE = re.compile(r"[，,；;。：:]")


@dataclass(frozen=True)
class Suggestion:
    question: str
    source: str
    section: str  # the section path the answer to `question` cites


def outline_of(chunks: Iterable) -> dict[str, dict[Path, list[Path]]]:
    """Per document, each outline node's children in document order (the root is `()`)."""
    trees: dict[str, dict[Path, list[Path]]] = {}
    for chunk in sorted(chunks, key=lambda c: (c.source, c.order)):
        tree = trees.setdefault(chunk.source, {(): []})
        path = tuple(chunk.section.split(PATH_SEPARATOR)) if chunk.section else ()
        for depth in range(1, len(path) + 1):
            node = path[:depth]
            if node not in tree:
                tree[node] = []
                tree[node[:-1]].append(node)
    return trees


def neighbours(tree: dict[Path, list[Path]], path: Path) -> list[Path]:
    """Around `path`, nearest first: its sub-sections, the next and the previous sibling, the
    sibling after next, the parent's next sibling, the parent itself."""
    def siblings(node: Path) -> tuple[list[Path], int]:
        around = tree.get(node[:-1], [])
        return around, around.index(node) if node in around else -1

    out = list(tree.get(path, []))
    around, at = siblings(path)
    if at >= 0:
        out += around[at + 1 : at + 2] + around[max(at - 1, 0) : at] + around[at + 2 : at + 3]
    if len(path) > 1:
        around, at = siblings(path[:-1])
        out += (around[at + 1 : at + 2] if at >= 0 else []) + [path[:-1]]
    return [p for p in dict.fromkeys(out) if p and p != path]


def question_for(title: str) -> str:
    """A plain question over a section title (a long lead-in is cut to its first clause)."""
    if len(title) > MAX_TITLE_CHARS:
        title = _CLAUSE.split(title, maxsplit=1)[0][:MAX_TITLE_CHARS]
    return TEMPLATE.format(title=title)


class FollowUps:
    """Suggestions for an answer, from the assistant's own index, each checked by asking it."""

    def __init__(self, assistant, most: int = 3) -> None:
        self.assistant, self.most = assistant, most
        self.trees = outline_of(assistant.index.chunks)
        self._cited: dict[str, set[tuple[str, str]]] = {}  # question → (source, section) its answer cites
        self._lock = threading.Lock()

    def answered_from(self, question: str, source: str, section: str) -> bool:
        """Whether the assistant answers `question` (alone, as a click sends it after any
        conversation) citing `section` or one of its sub-sections; asked once per question."""
        with self._lock:
            cited = self._cited.get(question)
        if cited is None:
            try:
                answer = self.assistant.ask(question)
            except UserError:
                answer = None
            cited = {(c.source, c.section) for c in answer.citations} if answer and answer.answerable else set()
            with self._lock:
                self._cited[question] = cited
        return any(s == source and (found == section or found.startswith(section + PATH_SEPARATOR)) for s, found in cited)

    def for_answer(self, answer: Answer, asked: Iterable[str] = ()) -> list[Suggestion]:
        """Up to `most` questions about the sections around the ones `answer` cites, none of
        them already asked or about a section the answer already cites."""
        if not self.most or not answer.answerable or not answer.citations:
            return []
        cited = {(c.source, c.section) for c in answer.citations}
        seen, out = set(asked), []
        for citation in answer.citations:
            tree = self.trees.get(citation.source, {})
            path = tuple(citation.section.split(PATH_SEPARATOR)) if citation.section else ()
            for node in neighbours(tree, path):
                section = PATH_SEPARATOR.join(node)
                question = question_for(node[-1])
                if (citation.source, section) in cited or question in seen:
                    continue
                seen.add(question)
                if self.answered_from(question, citation.source, section):
                    out.append(Suggestion(question, citation.source, section))
                    if len(out) == self.most:
                        return out
        return out
