"""The training questions kept as precedents: which of them a new question sounds most like.

The query adapter folds thousands of question → evidence pairs into one linear map, and blurs
what only a few of them say. The nearest training questions keep it: a new question close to
one the report answers with sentence S is evidence for S (a sentence feature of the ranker), and
close to one the report cannot answer, evidence for declining (a feature of the decliner).
Similarity is the frozen model's, question against question, as e5 was trained to compare them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEAREST = 20  # training questions whose evidence a new question inherits


@dataclass
class Verdict:
    """What the nearest training questions say about one question."""

    units: dict[str, float] = field(default_factory=dict)  # evidence unit id → its nearest question's similarity
    answerable: float = 0.0  # similarity of the nearest question the report answers
    unanswerable: float = 0.0  # and of the nearest one it cannot


@dataclass
class Precedents:
    vectors: np.ndarray  # one unit-length row per training question
    units: list[list[str]]  # each question's evidence units, by id (chunk hash and offset: the same in
    # every build of the same text; a unit the index no longer has is passed over)
    answerable: list[bool]

    def __post_init__(self) -> None:
        answerable = np.asarray(self.answerable, dtype=bool)
        self._answered, self._declined = np.flatnonzero(answerable), np.flatnonzero(~answerable)

    def verdict(self, vector: np.ndarray) -> Verdict:
        similarity = self.vectors @ vector.astype(np.float32)
        said = Verdict(
            answerable=float(similarity[self._answered].max(initial=0.0)),
            unanswerable=float(similarity[self._declined].max(initial=0.0)),
        )
        nearest = self._answered[np.argsort(-similarity[self._answered], kind="stable")[:NEAREST]]
        for k in nearest:
            for unit in self.units[k]:
                said.units.setdefault(unit, float(similarity[k]))  # (nearest first: the first is the best)
        return said
