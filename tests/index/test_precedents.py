"""The trained model's precedents: the training questions a new question is nearest to."""

from __future__ import annotations

import numpy as np

from assistant.index.precedents import NEAREST, Precedents


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_a_question_inherits_the_evidence_of_the_answerable_questions_nearest_it():
    precedents = Precedents(
        np.vstack([unit(1, 0, 0), unit(0.8, 0.6, 0), unit(0, 0, 1)]),
        units=[[4], [7, 4], []],
        answerable=[True, True, False],
    )
    said = precedents.verdict(unit(1, 0.1, 0))
    assert said.units[4] == max(said.units.values()) and said.units[4] > said.units[7] > 0.8
    assert said.answerable == said.units[4] and said.unanswerable < 0.1


def test_the_nearest_unanswerable_question_speaks_for_declining_and_lends_no_evidence():
    precedents = Precedents(np.vstack([unit(1, 0), unit(0, 1)]), units=[[3], []], answerable=[True, False])
    said = precedents.verdict(unit(0.1, 1))
    assert said.unanswerable > 0.99 > said.answerable
    assert set(said.units) == {3}  # (only answerable questions lend evidence)


def test_only_the_nearest_answerable_questions_lend_their_evidence():
    n = NEAREST + 5
    vectors = np.vstack([unit(1, i / n) for i in range(n)])
    said = Precedents(vectors, [[i] for i in range(n)], [True] * n).verdict(unit(1, 0))
    assert sorted(said.units) == list(range(NEAREST))


def test_a_saved_model_keeps_its_precedents(tmp_path):
    from assistant.index.ranking import Network, TrainedModel

    net = Network(["a"], [0.0], [1.0], [[[1.0]]], [[0.0]])
    precedents = Precedents(np.vstack([unit(1, 0), unit(0, 1)]), [[2], []], [True, False])
    TrainedModel(np.eye(2, dtype=np.float32), net, net, net, precedents=precedents).save(tmp_path / "model")
    loaded = TrainedModel.load(tmp_path / "model")
    assert loaded.precedent(unit(1, 1)) == precedents.verdict(unit(1, 1))
