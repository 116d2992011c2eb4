"""The extractive answerer: quote the few sentences of the retrieved passages that answer.

No language model is needed. Each sentence (or clause of a long, semicolon-separated
sentence) of the top passages is scored by how much of the question's rare vocabulary it
covers, helped by its passage's section title and surrounding text; the best ones are quoted
verbatim, numbers untouched, each followed by its citation [n].

It declines (answerable=False) when the question's distinctive words, or the numbers it
names, are not in the passage that would answer it: a strong match on "义乌小商品城" is no
evidence for its floor area.

With a trained model (`assistant tune`, assistant.index.ranking) the learned sentence ranker orders the
candidates and the learned decliner says whether to answer; the hand-written score and the
decline rules above are then two of their features (assistant.answer.features).

The answerer chooses; the pieces it composes live beside it: the scored candidates
(segments), declining (grounding), what completes a quoted sentence (completion), answers with
a shape of their own - a numbered item, an outline's list, a ranking's end, parallel labels
(shapes) - and the answer's text with its citations (compose).
"""

from __future__ import annotations

import math
import numpy as np
from langchain_core.documents import Document

from assistant.answer.companions import pair_rows
from assistant.answer.completion import continuation, described_neighbours, head_clause, leaned_on
from assistant.answer.compose import compose, passage
from assistant.answer.features import QUESTION_FEATURES, SENTENCE_FEATURES, question_row, sentence_rows
from assistant.answer.grounding import AIM_ONLY, declined, passage_gap
from assistant.answer.query import Query
from assistant.answer.retrieve import ON_TOPIC
from assistant.answer.segments import Segment, holds_number, overlap, score_segments
from assistant.answer.shapes import numbered_item, outline_items, parallel_labels, ranking_end
from assistant.answer_models import Answer, Passage
from assistant.ingest.normalize import compact


def _reads_these_features(model) -> bool:
    return (model is not None and model.ranker is not None and model.ranker.features == SENTENCE_FEATURES
            and model.decliner.features == QUESTION_FEATURES)


class ExtractiveAnswerer:
    """Chooses and quotes sentences; the thresholds are fractions of the question's weight."""

    def __init__(
        self, passages: int = 4, min_coverage: float = 0.35, budget_chars: int = 180, runner_up: float = 0.7,
        model=None, scope: str = "", decline: str = "learned",
    ) -> None:
        self.decline = decline  # "learned": the decliner; "rules": the grounding rules over the learned order
        self.model = model if _reads_these_features(model) else None  # (an older one: `assistant index` retrains it)
        self.scope = scope  # what the corpus covers, said when declining
        self.passages = passages
        self.min_coverage = min_coverage
        self.runner_up = runner_up
        # 180 characters, 360 for a list or a why: 150 cut off the last item of 0.009 of the development
        # answers (answer 0.938 -> 0.947); the median answer stays 95 characters, the longest tenth
        # grows from 164 to 181
        self.budget_chars = budget_chars

    def _segments(self, query: Query, documents: list[Document]) -> list[Segment]:
        return score_segments(query, documents, self.passages)

    def _budget(self, query: Query) -> int:
        return self.budget_chars * (2 if query.kind in ("list", "reason") or query.compares else 1)

    def gap(self, query: Query, best: Segment, segments: list[Segment], documents: list[Document]) -> str | None:
        """What the answering passage lacks, said in a few words for the decline; None when grounded."""
        return passage_gap(query, best, segments, documents, self.min_coverage, self._budget(query))

    def candidates(self, query: Query, documents: list[Document]) -> tuple[list[Segment], np.ndarray]:
        """The candidate sentences, best hand-scored first, and their ranking features."""
        segments = sorted(self._segments(query, documents), key=lambda s: -s.score)
        grounded = [self.gap(query, seg, segments, documents) is None for seg in segments]
        return segments, sentence_rows(query, segments, documents, grounded)

    def question_features(self, query: Query, segments: list[Segment], logits: np.ndarray, rows: np.ndarray, documents: list[Document]) -> np.ndarray:
        """Features of the question's best candidate (segments sorted by `logits`) for the decliner."""
        doc = documents[segments[0].rank]
        context = compact(doc.page_content + doc.metadata.get("section", "") + doc.metadata.get("title", ""))
        missing_anchors = sum(a not in context for a in query.anchors)
        missing_numbers = sum(not holds_number(context, n) for n in query.numbers)
        by_hand = max(range(len(segments)), key=lambda i: rows[i][0])  # what the rules alone would quote
        hand_grounded = bool(rows[by_hand][SENTENCE_FEATURES.index("grounded")])
        return question_row(query, segments, logits, rows, documents, missing_anchors, missing_numbers, hand_grounded)

    def _learned(self, query: Query, documents: list[Document]) -> tuple[list[Segment], np.ndarray, np.ndarray, str | None]:
        """Candidates ordered by the trained ranker (with their features and logits), and why to
        decline when the decliner says so ("" when no rule can name the reason)."""
        segments, rows = self.candidates(query, documents)
        logits = self.model.ranker.logit(rows)
        order = np.argsort(-logits, kind="stable")
        # the learned order picks the sentence to quote; each keeps its hand-written score, by which
        # the composition decides what else to quote beside it (measured on the cross-fitted
        # training questions: 0.846 of answers hold every must_include string this way, 0.818
        # when the ranker's probabilities replace the scores)
        segments, rows, logits = [segments[i] for i in order], rows[order], logits[order]
        if self.decline == "rules":
            return self._grounded_first(query, segments, rows, logits, documents)
        if self.decline == "topic+rules":
            on_topic = documents[0].metadata.get(ON_TOPIC)
            if on_topic is not None and on_topic < self.model.topic_threshold:
                return segments, rows, logits, ""
            return self._grounded_first(query, segments, rows, logits, documents)
        answers = self.model.decliner.prob(self.question_features(query, segments, logits, rows, documents)[None, :])[0]
        if answers >= self.model.threshold:
            return segments, rows, logits, None
        return segments, rows, logits, self.gap(query, segments[0], segments, documents) or ""

    def _grounded_first(
        self, query: Query, segments: list[Segment], rows: np.ndarray, logits: np.ndarray, documents: list[Document]
    ) -> tuple[list[Segment], np.ndarray, np.ndarray, str | None]:
        """The best candidate whose passage holds what the question names, moved to the front."""
        best, missing = 0, self.gap(query, segments[0], segments, documents)
        for i, seg in enumerate(segments[1:], 1):
            if not missing or missing == AIM_ONLY or seg.score < self.runner_up * segments[0].score:
                break
            if self.gap(query, seg, segments, documents) is None:
                best, missing = i, None
        order = [best] + [i for i in range(len(segments)) if i != best]
        return [segments[i] for i in order], rows[order], logits[order], missing

    def companions(self, query: Query, segments: list[Segment], rows: np.ndarray, logits: np.ndarray) -> list[Segment]:
        """The neighbours of the best candidate (segments[0]) the companion model would quote beside it."""
        if self.model is None or self.model.companion is None:
            return []
        near = described_neighbours(segments[0], segments, rows, logits)
        if not near:
            return []
        probs = self.model.companion.prob(pair_rows(query, segments[0], float(logits[0]), near))
        return [seg for (_, seg, _, _), p in zip(near, probs) if p >= self.model.companion_threshold]

    def answer(self, question: str, query: Query, documents: list[Document]) -> Answer:
        passages = [passage(doc) for doc in documents]
        if not query.terms or not documents:
            return self._decline(question, "报告中没有与这个问题对得上的段落", passages)
        if self.model is not None:
            segments, rows, logits, missing = self._learned(query, documents)
            if missing is not None:
                return self._decline(question, missing, passages)
            companions = self.companions(query, segments, rows, logits)
            return self._quote(question, query, segments[0], segments, documents, passages, companions)
        segments = sorted(self._segments(query, documents), key=lambda s: -s.score)
        # the best-scored sentence whose passage holds what the question names; a close
        # runner-up may be the grounded one (the passage with 「300 亿元」 ranked third)
        best, missing = segments[0], self.gap(query, segments[0], segments, documents)
        exact = bool(query.numbers)  # a number the question names is evidence enough to look further
        for seg in segments[1:]:
            if not missing or missing == AIM_ONLY or (not exact and seg.score < self.runner_up * segments[0].score):
                break  # (the sentence that matches best only sets the aim: no other one says it came true)
            if self.gap(query, seg, segments, documents) is None:
                best, missing = seg, None
        if missing:
            return self._decline(question, missing, passages)
        return self._quote(question, query, best, segments, documents, passages)

    def _decline(self, question: str, missing: str, passages: list[Passage]) -> Answer:
        return declined(question, missing, passages, self.scope)

    def _quote(
        self, question: str, query: Query, best: Segment, segments: list[Segment], documents: list[Document],
        passages: list[Passage], companions: list[Segment] = (),
    ) -> Answer:
        """The answer that quotes `best` and what completes it (beside the rules' choices, the
        `companions` the learned model picked, as far as the budget goes; a long one by its
        first clause)."""
        budget = self._budget(query)
        item, heading = numbered_item(query, segments, documents, budget)
        if item:
            return compose(question, item, documents, passages, heading=heading)
        titles, quoted, heading = outline_items(query, best, segments, documents) if query.kind == "list" else ([], None, "")
        if titles and quoted is not None:
            return compose(question, [quoted], documents, passages, heading=heading, items=titles)
        if query.kind == "list" and (items := parallel_labels(best, segments)):
            return compose(question, items, documents, passages)
        top = ranking_end(query, segments) if query.extreme else []
        if top and self.gap(query, top[0], segments, documents) is None:
            return compose(question, top, documents, passages)
        chosen = [best]
        for seg in segments:
            if seg is best:
                continue
            if len(chosen) >= 3 or seg.score < 0.85 * best.score:
                break
            if sum(len(c.text) for c in chosen) + len(seg.text) > budget:
                continue
            if not all(holds_number(seg.text, n) for n in query.numbers):
                continue  # the number named is the question's constraint; a sentence without it is noise
            covered = set().union(*(c.covered for c in chosen))
            gain = math.fsum(query.terms[t] for t in seg.covered - covered)
            if gain >= 0.15 * query.total:  # it answers a part of the question the others do not
                chosen.append(seg)
        for seg in companions:
            room = budget - sum(len(c.text) for c in chosen)
            seg = seg if len(seg.text) <= room else head_clause(seg)
            if len(seg.text) <= room and not any(overlap(seg, c) for c in chosen):
                chosen.append(seg)
        chosen += leaned_on(query, chosen, segments, budget)
        # complete each quoted sentence that opens a list or is a heading, right after it
        anchors = sorted(chosen, key=lambda s: (s.rank, s.start))
        quoted: list[Segment] = []
        for i, seg in enumerate(anchors):
            if any(overlap(seg, q) for q in quoted):  # an item of a list quoted before it
                continue
            room = budget - sum(len(s.text) for s in quoted + anchors[i + 1 :])
            rest = continuation(seg, segments, room)
            quoted += [seg] + [s for s in rest if not any(overlap(s, q) for q in quoted)]
        return compose(question, quoted, documents, passages)
