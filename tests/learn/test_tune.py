"""`assistant tune`: the query adapter, the rankers, when a model is trained and which one answers."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from support import cli_runner
from assistant.answer.companions import PAIR_FEATURES
from conftest import make_settings
from support.tiny_report import TRAINING, tiny_settings, write_set


@pytest.fixture
def tiny(tmp_path):
    from assistant.index.build import build_index

    settings = tiny_settings(tmp_path)
    build_index(settings)
    return settings


def test_the_adapter_moves_questions_toward_their_evidence_sentences():
    from assistant.learn.fit import train_adapter

    rng = np.random.default_rng(0)
    sentences = rng.normal(size=(12, 16)).astype(np.float32)
    sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
    # each question sits nearer a decoy sentence than the one that answers it
    targets = list(range(6))
    questions = np.stack([0.4 * sentences[t] + 0.6 * sentences[t + 6] for t in targets]).astype(np.float32)
    before = (questions @ sentences.T).argmax(1)
    assert not (before == targets).any()
    adapter = train_adapter(questions, [[t] for t in targets], sentences, steps=300, reg=0.0, lr=1e-2)
    adapted = questions @ adapter
    assert ((adapted @ sentences.T).argmax(1) == targets).all()


def test_tuning_is_deterministic_and_the_model_is_recorded(tiny):
    from assistant.index.loaded import LoadedIndex
    from assistant.learn.tune import tune

    first = tune(tiny, LoadedIndex.open(tiny), force=True)
    adapter, precedents = ((first.folder / name).read_bytes() for name in ("adapter.npy", "precedents.npy"))
    model = json.loads((first.folder / "model.json").read_text(encoding="utf-8"))
    # again in another process, whose set order (hash seed) differs
    env = {**os.environ, "PYTHONHASHSEED": "7", **{f"ASSISTANT_{name.upper()}": str(getattr(tiny, name)) for name in (
        "corpus_dir", "persist_dir", "data_dir", "train_dir", "evals_dir", "embedding")}}
    subprocess.run([cli_runner.EXECUTABLE, "tune", "--force"], env=env, check=True, capture_output=True)
    assert (first.folder / "adapter.npy").read_bytes() == adapter
    assert (first.folder / "precedents.npy").read_bytes() == precedents
    repeat = json.loads((first.folder / "model.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in repeat.items() if k != "meta"} == {k: v for k, v in model.items() if k != "meta"}
    assert model["companion"]["features"] == PAIR_FEATURES
    assert model["meta"]["items"] == len(TRAINING) and model["meta"]["unanswerable"] == 4
    assert sum(f.stat().st_size for f in first.folder.iterdir()) < 20 * 2**20
    info = cli_runner.run("info", env={"ASSISTANT_PERSIST_DIR": str(tiny.persist_dir)})
    assert model["meta"]["training_hash"][:16] in info.stdout
    index = LoadedIndex.open(tiny)
    assert index.model is not None and index.model.meta["training_hash"] == model["meta"]["training_hash"]
    assert index.model.wording is not None and index.model.wording.vocabulary == model["wording"]["vocabulary"]


def test_index_retrains_when_the_training_data_changes_and_only_then(tiny):
    from assistant.learn.tune import ensure_model

    trained = ensure_model(tiny)
    assert not trained.skipped
    assert ensure_model(tiny).skipped  # nothing changed: the model on disk is reused
    write_set(tiny.train_dir / "train.jsonl", TRAINING + [{"id": "a8", "question": "乙市产值多少", "answerable": True,
                                                         "must_include": ["90 亿元"], "evidence": ["年产值 90 亿元"]}])
    (tiny.train_dir / "new_and_empty.jsonl").write_text("\n", encoding="utf-8")  # a trainer's set, nothing in it yet
    retrained = ensure_model(tiny)
    assert not retrained.skipped and retrained.folder != trained.folder and retrained.items == len(TRAINING) + 1


def test_tune_without_training_sets_or_sentence_vectors_says_so_in_one_line(tiny, tmp_path):
    env = {"ASSISTANT_PERSIST_DIR": str(tiny.persist_dir), "ASSISTANT_TRAIN_DIR": str(tmp_path / "none")}
    result = cli_runner.run("tune", env=env)
    assert result.returncode == 2 and "没有训练集" in result.stderr and "Traceback" not in result.stderr
    hashing = make_settings(tmp_path / "h", tiny.corpus_dir)
    from assistant.index.build import build_index

    build_index(hashing)
    result = cli_runner.run("tune", env={"ASSISTANT_PERSIST_DIR": str(hashing.persist_dir), "ASSISTANT_TRAIN_DIR": str(tiny.train_dir)})
    assert result.returncode == 2 and "hashing" in result.stderr


def test_the_networks_of_a_classifier_are_averaged_and_stored_as_one():
    from sklearn.neural_network import MLPClassifier

    from assistant.learn.fit import NETWORKS, fit_network

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(300, 5))
    labels = rows[:, 0] + 0.5 * rng.normal(size=300) > 0
    stored = fit_network(rows, labels, list("abcde"), hidden=8)
    z = (rows - rows.mean(0)) / rows.std(0)
    members = [MLPClassifier(hidden_layer_sizes=(8,), alpha=1e-2, max_iter=1000, random_state=seed).fit(z, labels)
               for seed in range(NETWORKS)]
    logits = [np.maximum(z @ m.coefs_[0] + m.intercepts_[0], 0) @ m.coefs_[1][:, 0] + m.intercepts_[1][0] for m in members]
    assert NETWORKS > 1 and len(stored.weights[0][0]) == 8 * NETWORKS
    assert np.allclose(stored.logit(rows), np.mean(logits, axis=0))


def test_the_wording_model_weighs_character_ngrams_as_scikit_learn_would():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from assistant.learn.fit import fit_wording

    texts = ["绍兴有多少个集群？", "温州  集群产值多少", "明天杭州天气咋样", "绍兴的产值呢", "Ab 高考 ab"]
    wording = fit_wording(texts, np.array([1, 1, 0, 1, 0]))
    reference = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    assert wording.vocabulary == sorted(reference.vocabulary_)
    assert np.allclose(wording.idf, reference.idf_)
    for text in texts + ["没见过的问题：绍兴"]:
        row = np.zeros(len(wording.vocabulary))
        for column, weight in wording.weights(text).items():
            row[column] = weight
        assert np.allclose(row, reference.transform([text]).toarray()[0])


def test_the_wording_model_learns_which_wordings_the_report_cannot_answer():
    from assistant.index.wording import Wording
    from assistant.learn.fit import fit_wording

    answerable = [f"{city}有多少个集群" for city in ("杭州", "宁波", "温州", "绍兴")] + ["台州集群产值多少", "嘉兴集群有几个"]
    declined = [f"{city}明天天气怎么样" for city in ("杭州", "宁波", "温州")] + ["绍兴天气咋样", "今天天气好吗", "天气预报说啥"]
    wording = fit_wording(answerable + declined, np.array([1] * len(answerable) + [0] * len(declined)))
    assert wording.prob("湖州有多少个集群") > 0.5 > wording.prob("湖州明天天气怎么样")
    stored = Wording(**json.loads(json.dumps(wording.to_dict(), ensure_ascii=False)))  # as model.json keeps it
    assert stored.prob("湖州明天天气怎么样") == wording.prob("湖州明天天气怎么样")


def test_a_threshold_that_weighs_missed_positives_more_lets_more_in():
    from assistant.learn.fit import best_f_threshold

    probs = np.array([0.9, 0.85, 0.8, 0.2, 0.3, 0.25, 0.22, 0.1])
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)  # one positive sits below three negatives
    f1, f3 = best_f_threshold(probs, labels), best_f_threshold(probs, labels, beta=3.0)
    assert f3 < f1
    assert (probs[labels] >= f3).all() and not (probs[labels] >= f1).all()
