"""Which sentences beside the best one complete the answer, learned from the training sets.

A list, a cause or a recommendation is often spread over a few sentences: 「一是…」 is the
best match, 「二是…」「三是…」 follow it; 「…也带来了许多生态问题」 is followed by the causes.
The companion model scores each neighbour of the quoted sentence (up to NEIGHBOURS_BEFORE
before it and NEIGHBOURS_AFTER after it, in reading order) by whether it carries evidence the
best sentence lacks; `assistant tune` fits it on the cross-fitted candidates of the training
questions (a neighbour is positive when it is evidence too, or holds a string the answer must
include that the best sentence lacks).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from assistant.answer.features import SENTENCE_FEATURES
from assistant.answer.markers import CAUSE, EXAMPLE, LIST_GOES_ON, LIST_OPENS, MARK_INSIDE, NUMBERED, REMEDY
from assistant.answer.query import Query

if TYPE_CHECKING:
    from assistant.answer.segments import Segment

NEIGHBOURS_BEFORE, NEIGHBOURS_AFTER = 3, 6
PAIR_FEATURES = [
    *(f"neighbour_{name}" for name in SENTENCE_FEATURES), "neighbour_logit", "logit_gap", "offset", "distance",
    "same_passage", "best_opens_list", "best_is_item", "best_gives_cause", "neighbour_is_item",
    "neighbour_has_item_inside", "neighbour_gives_cause", "neighbour_gives_remedy", "neighbour_gives_example",
    "asks_list", "asks_why", "asks_remedy", "asks_example", "asks_quantity", "compares", "new_terms", "log_best_chars",
]


def pair_rows(query: Query, best: "Segment", best_logit: float, neighbours: list[tuple[int, "Segment", np.ndarray, float]]) -> np.ndarray:
    """One row of PAIR_FEATURES per (offset, neighbour, its sentence features, its ranker logit)."""
    item = bool(LIST_GOES_ON.match(best.text) or NUMBERED.match(best.text.strip()))
    rows = []
    for offset, seg, row, logit in neighbours:
        rows.append([
            *row, logit, best_logit - logit, float(offset), math.log(abs(offset)), float(seg.rank == best.rank),
            float(bool(LIST_OPENS.search(best.text))), float(item), float(bool(CAUSE.search(best.text))),
            float(bool(LIST_GOES_ON.match(seg.text) or NUMBERED.match(seg.text.strip()))),
            float(bool(MARK_INSIDE.search(seg.text))), float(bool(CAUSE.search(seg.text))),
            float(bool(REMEDY.search(seg.text))), float(bool(EXAMPLE.search(seg.text))),
            float(query.kind == "list"), float(query.why), float(query.remedy), float(query.example),
            float(query.kind == "quantity"), float(bool(query.compares)),
            math.fsum(query.terms[t] for t in seg.covered - best.covered) / query.total, math.log(1 + len(best.text)),
        ])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(PAIR_FEATURES))
