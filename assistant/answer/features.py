"""Features of the candidate sentences of one question, and of the question's best candidate.

Answering and `assistant tune` compute them with this one function, so the rankers are trained
on exactly what they later see. The hand-written coverage score and the decline rules of the
extractive answerer enter here as features among others; the weights are learned.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.documents import Document

from assistant.answer.query import Query
from assistant.answer.retrieve import NEAR_ANSWERABLE, NEAR_UNANSWERABLE, ON_TOPIC, PRECEDENTS, WORDING

if TYPE_CHECKING:
    from assistant.answer.segments import Segment

SENTENCE_FEATURES = [
    "hand_score", "similarity", "similarity_gap", "similarity_rank", "found_by_vector", "passage_score",
    "passage_rank", "bm25_share", "coverage", "grounded", "has_number", "has_unit", "quantity_with_number",
    "quantity_without_number", "log_chars", "is_first_in_passage", "precedent", "precedent_gap",
]
QUESTION_FEATURES = [
    "best_logit", "margin", "best_similarity", "top_similarity", "best_hand_score", "best_grounded",
    "best_coverage", "missing_anchors", "missing_numbers", "log_terms_weight", "terms", "quantity",
    "best_passage_score", "best_has_unit", "on_topic", "hand_grounded", "unknown_share", "wording",
    "near_answerable", "near_unanswerable", "best_precedent",
]


def _similarity(doc: Document, seg: "Segment") -> float | None:
    return doc.metadata.get("sentences", {}).get(seg.start)


def sentence_rows(query: Query, segments: list["Segment"], documents: list[Document], grounded: list[bool]) -> np.ndarray:
    """One row of SENTENCE_FEATURES per segment."""
    found = [s for doc in documents for s in doc.metadata.get("sentences", {}).values()]
    top = max(found, default=0.0)
    ordered = sorted(found, reverse=True)
    bm25_max = max((float(d.metadata.get("bm25", 0.0)) for d in documents), default=0.0) or 1.0
    first_start = {}
    for seg in segments:
        first_start[seg.rank] = min(first_start.get(seg.rank, seg.start), seg.start)
    nearest = (documents[0].metadata.get(NEAR_ANSWERABLE) or 0.0) if documents else 0.0
    rows = []
    for seg, ok in zip(segments, grounded):
        doc = documents[seg.rank]
        similarity = _similarity(doc, seg)
        precedent = doc.metadata.get(PRECEDENTS, {}).get(seg.start)
        covered = math.fsum(query.terms[t] for t in seg.covered) / query.total
        rows.append([
            seg.score,
            similarity if similarity is not None else 0.0,
            (similarity - top) if similarity is not None else -1.0,
            1.0 / (1 + ordered.index(similarity)) if similarity is not None else 0.0,
            float(similarity is not None),
            float(doc.metadata.get("score", 0.0)),
            1.0 / (1 + seg.rank),
            float(doc.metadata.get("bm25", 0.0)) / bm25_max,
            covered,
            float(ok),
            float(seg.has_number),
            float(seg.has_unit),
            float(query.kind == "quantity" and seg.has_number),
            float(query.kind == "quantity" and not seg.has_number),
            math.log(1 + len(seg.text)),
            float(seg.start == first_start[seg.rank]),
            precedent if precedent is not None else 0.0,
            (precedent - nearest) if precedent is not None else -1.0,
        ])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(SENTENCE_FEATURES))


def question_row(
    query: Query, segments: list["Segment"], logits: np.ndarray, rows: np.ndarray, documents: list[Document],
    missing_anchors: int, missing_numbers: int, hand_grounded: bool,
) -> np.ndarray:
    """QUESTION_FEATURES for the best candidate (segments and rows sorted best first)."""
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    best = rows[0]
    found = [s for doc in documents for s in doc.metadata.get("sentences", {}).values()]
    return np.asarray([
        logits[0],
        logits[0] - logits[1] if len(logits) > 1 else 5.0,
        best[col["similarity"]],
        max(found, default=0.0),
        best[col["hand_score"]],
        best[col["grounded"]],
        best[col["coverage"]],
        float(missing_anchors),
        float(missing_numbers),
        math.log(1 + query.total),
        float(len(query.terms)),
        float(query.kind == "quantity"),
        best[col["passage_score"]],
        best[col["has_unit"]],
        documents[0].metadata.get(ON_TOPIC) or 0.5,
        float(hand_grounded),
        query.unknown_share,
        documents[0].metadata.get(WORDING) or 0.5,
        documents[0].metadata.get(NEAR_ANSWERABLE) or 0.0,
        documents[0].metadata.get(NEAR_UNANSWERABLE) or 0.0,
        best[col["precedent"]],
    ], dtype=np.float64)
