"""The trained model's precedents: the training questions a new question is nearest to."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from assistant.answer.retrieve import DenseHits
from assistant.index.precedents import NEAREST, Precedents


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_a_question_inherits_the_evidence_of_the_answerable_questions_nearest_it():
    precedents = Precedents(
        np.vstack([unit(1, 0, 0), unit(0.8, 0.6, 0), unit(0, 0, 1)]),
        units=[["c1:4"], ["c1:7", "c1:4"], []],
        answerable=[True, True, False],
    )
    said = precedents.verdict(unit(1, 0.1, 0))
    assert said.units["c1:4"] == max(said.units.values()) and said.units["c1:4"] > said.units["c1:7"] > 0.8
    assert said.answerable == said.units["c1:4"] and said.unanswerable < 0.1


def test_the_nearest_unanswerable_question_speaks_for_declining_and_lends_no_evidence():
    precedents = Precedents(np.vstack([unit(1, 0), unit(0, 1)]), units=[["c1:3"], []], answerable=[True, False])
    said = precedents.verdict(unit(0.1, 1))
    assert said.unanswerable > 0.99 > said.answerable
    assert set(said.units) == {"c1:3"}  # (only answerable questions lend evidence)


def test_only_the_nearest_answerable_questions_lend_their_evidence():
    n = NEAREST + 5
    vectors = np.vstack([unit(1, i / n) for i in range(n)])
    said = Precedents(vectors, [[f"c1:{i}"] for i in range(n)], [True] * n).verdict(unit(1, 0))
    assert set(said.units) == {f"c1:{i}" for i in range(NEAREST)}


def test_a_saved_model_keeps_its_precedents(tmp_path):
    from assistant.index.ranking import Network, TrainedModel

    net = Network(["a"], [0.0], [1.0], [[[1.0]]], [[0.0]])
    precedents = Precedents(np.vstack([unit(1, 0), unit(0, 1)]), [["c1:2"], []], [True, False])
    TrainedModel(np.eye(2, dtype=np.float32), net, net, net, precedents=precedents).save(tmp_path / "model")
    loaded = TrainedModel.load(tmp_path / "model")
    assert loaded.precedent(unit(1, 1)) == precedents.verdict(unit(1, 1))


def test_a_precedent_whose_sentence_the_index_no_longer_has_is_passed_over():
    """A model outlives the build it was trained on until `assistant index` retrains it: the
    precedents name sentences by chunk hash and offset, so a changed corpus loses only theirs."""
    from assistant.answer.retrieve import HybridRetriever
    from assistant.index.ranking import TrainedModel
    from assistant.index.sentence_index import Unit

    kept = Unit("c1:0", "c1", 0, 8, "甲市有 30 个集群。", "一、现状")
    index = SimpleNamespace(units=[kept], model=TrainedModel(precedents=Precedents(
        np.vstack([unit(1, 0), unit(0.9, 0.1)]), [["gone:5"], ["c1:0"]], [True, True])))
    retriever = HybridRetriever.model_construct(index=index)
    hits = retriever._precedents(DenseHits(), unit(1, 0))
    assert hits.precedents == {"c1": {0: pytest.approx(float(unit(0.9, 0.1) @ unit(1, 0)))}}
