"""`assistant tune`: learn the query adapter and the rankers from the training sets.

Training sets (the sets whose role is training, `assistant.evaluation.sets`: `evals/train/*.jsonl`, in the
evaluation format) pair questions with the report's evidence sentences, and list questions the
report cannot answer. Nothing here reads a held-out set. Steps (`STEPS`, what progress names),
all deterministic:

1. every question is made standalone as answering makes it (follow-ups condensed) and embedded
   (through the embedding cache);
2. the adapter: a square matrix on the question vector, trained with a softmax over all of the
   corpus's sentences (the evidence sentences are the positives), pulled lightly toward identity;
3. cross-fitting: five adapters, each trained without one fifth of the questions, retrieve and
   describe the candidates of that fifth, so the rankers learn from similarities as they look
   for questions the adapter has not seen;
4. the sentence ranker (is this candidate an evidence sentence?) and the decliner (is the best
   candidate a right answer, or is the question one the report cannot answer?) are small
   networks over those features; the decliner's threshold is the one that gets the most
   cross-fitted questions right. One of the decliner's features is a logistic
   regression on the question's own vector (the topic model): how much it sounds like the
   questions the report answers (weather, exams and other provinces do not), before anything
   is searched; another is the same from the question's characters (the wording model);
5. the companion model: which neighbours of the first candidate complete the answer (the
   other items of a list, the causes after the sentence that announces them).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.answer.companions import PAIR_FEATURES, pair_rows
from assistant.answer.completion import described_neighbours
from assistant.answer.conversation import condense
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.features import QUESTION_FEATURES, SENTENCE_FEATURES
from assistant.answer.query import analyse
from assistant.answer.retrieve import ON_TOPIC, HybridRetriever
from assistant.errors import UserError
from assistant.evaluation.evaluate import EvalItem, load_eval_set
from assistant.evaluation.sets import question_key, training_files
from assistant.index.loaded import LoadedIndex
from assistant.index.manifest import current_build, read_manifest, writer_lock
from assistant.index.precedents import Precedents
from assistant.index.ranking import Network, TrainedModel, model_folder, switch_model
from assistant.index.sentence_index import Unit, read_units
from assistant.ingest.normalize import compact, normalize_query
from assistant.learn.fit import (
    best_f_threshold, dimension_names, fit_network, fit_wording, keeping_recall, most_right_threshold, train_adapter,
)
from assistant.settings import Settings

TUNE_VERSION = 15  # part of the training hash: a change of features, method or record retrains
FOLDS = 5
# what progress reports, in order: (step name, done, total) within each
STEPS = ("问题向量化", "交叉训练", "训练排序器与拒答器", "训练查询适配器", "保存模型")
Progress = Callable[[str, int, int], None]
RANKER_HIDDEN, DECLINER_HIDDEN, COMPANION_HIDDEN = 32, 16, 16  # units of the one hidden layer (measured: see assistant.index.ranking)
# the companion threshold weighs a neighbour left out 9 times one quoted in vain (F-beta, beta 3):
# a missing item costs the answer, an extra one some length within the budget (development sets:
# F1's threshold 0.22 answered 0.922, median 89 characters; beta 2 → 0.09: 0.929, 91; beta 3 → 0.05: 0.934, 95)
COMPANION_BETA = 3.0
TOPIC_RECALL = 0.98  # of the answerable questions the topic check lets through (cross-fitted)


@dataclass
class TuneReport:
    folder: Path
    items: int
    answerable: int
    unanswerable: int
    seconds: float
    skipped: bool
    sentence_hit_at_1: float  # cross-fitted: the evidence sentence is the ranker's first candidate
    decline_accuracy: float  # cross-fitted balanced accuracy of the decliner
    files: list[str]  # the training sets it learned from


def training_hash(files: list[Path], embedding: dict, units: list[Unit]) -> str:
    """Of the training data, the embedding, the corpus's sentences and the method: any change retrains."""
    digest = hashlib.sha256(f"tune-v{TUNE_VERSION}\x1f{embedding}".encode())
    for path in files:
        digest.update(path.name.encode() + b"\x1f" + path.read_bytes())
    for unit in units:
        digest.update(unit.text.encode() + b"\x1e")
    return digest.hexdigest()


def _reuse(settings: Settings, key: str) -> TuneReport | None:
    """The model already trained for `key`, switched to; None when there is none (or it is damaged)."""
    folder = model_folder(settings.persist_dir, key)
    try:
        meta = TrainedModel.load(folder).meta
    except (OSError, ValueError, KeyError, TypeError):
        return None
    switch_model(settings.persist_dir, folder)
    return TuneReport(folder, meta["items"], meta["answerable"], meta["unanswerable"], 0.0, True,
                      meta["sentence_hit_at_1"], meta["decline_accuracy"], meta["files"])


def _load(files: list[Path]) -> list[EvalItem]:
    """Every training item; an empty set (a trainer's new one) adds nothing, a broken one is an error."""
    items: list[EvalItem] = []
    for path in files:
        if path.read_text(encoding="utf-8", errors="replace").strip():
            items.extend(load_eval_set(path).items)
    if not items:
        raise UserError(f"no training items in {', '.join(map(str, files))}")
    return items


def _matches(evidence: list[str], text: str) -> bool:
    return _holds([compact(ev) for ev in evidence], compact(text))


def _holds(evidence: list[str], flat: str) -> bool:
    """Whether compacted text `flat` is (part of) one of the compacted evidence strings."""
    return any(e and (e in flat or (len(flat) >= 6 and flat in e)) for e in evidence)


def evidence_units(evidence: list[str], units: list[str]) -> list[int]:
    """The positions of the compacted `units` an item's evidence strings point to: what training
    takes for its evidence sentences, and what counts a sentence as covered by a training question."""
    wanted = [compact(ev) for ev in evidence]
    return [j for j, u in enumerate(units) if _holds(wanted, u)]


class _Known(Embeddings):
    """The questions' vectors, embedded once for all folds."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text].tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError("tuning embeds no documents")


@dataclass
class CrossFit:
    """Every training question's candidates and features, each from an adapter (and topic model)
    that did not see it."""

    items: list[EvalItem]
    standalone: list[str]  # the questions as answering reads them (follow-ups condensed)
    vectors: np.ndarray  # their own vectors
    sentences: np.ndarray  # the corpus units' vectors
    positives: list[list[int]]  # each question's evidence units
    trainable: list[int]  # the questions with evidence found among the units
    answers: np.ndarray  # 1 for an answerable question
    questions: list[tuple]  # (item number, rows, labels, segments, documents, query)


def cross_fit(settings: Settings, index: LoadedIndex, items: list[EvalItem], tell: Progress) -> CrossFit:
    standalone = [condense(normalize_query(i.question), list(i.history), index.tokenizer) for i in items]
    tell(STEPS[0], 0, len(items))
    vectors = index.embeddings.matrix(standalone, role="query")
    tell(STEPS[0], len(items), len(items))
    sentences = np.load(index.build / "units.npy")
    units = [compact(u.text) for u in index.units]  # compacted once, not once per question
    positives = [evidence_units(i.evidence, units) if i.answerable else [] for i in items]
    trainable = [k for k, p in enumerate(positives) if p]
    folds = np.arange(len(items)) % FOLDS
    known = _Known(dict(zip(standalone, vectors)))
    answers = np.array([int(i.answerable) for i in items])
    plain = ExtractiveAnswerer()
    questions = []
    for fold in range(FOLDS):
        tell(STEPS[1], fold, FOLDS)
        train = [k for k in trainable if folds[k] != fold]
        adapter = train_adapter(vectors[train], [positives[k] for k in train], sentences)
        topic = fit_network(vectors[folds != fold], answers[folds != fold], dimension_names(vectors))
        wording = fit_wording([q for q, f in zip(standalone, folds) if f != fold], answers[folds != fold])
        precedents = _precedents(np.flatnonzero(folds != fold), vectors, positives, answers, index.units)
        view = replace(index, embeddings=known,
                       model=TrainedModel(adapter=adapter, topic=topic, wording=wording, precedents=precedents))
        retriever = HybridRetriever(index=view, k=settings.retrieve_k, bm25_weight=settings.bm25_weight)
        for k in np.flatnonzero(folds == fold):
            documents = retriever.invoke(standalone[k])
            query = analyse(standalone[k], index)
            if not query.terms or not documents:
                continue
            segments, rows = plain.candidates(query, documents)
            labels = np.array([_matches(items[k].evidence, s.text) for s in segments]) if items[k].answerable else np.zeros(len(segments), bool)
            questions.append((k, rows, labels, segments, documents, query))
    tell(STEPS[1], FOLDS, FOLDS)
    return CrossFit(items, standalone, vectors, sentences, positives, trainable, answers, questions)


def _precedents(chosen: np.ndarray, vectors: np.ndarray, positives: list[list[int]], answers: np.ndarray,
                units: list[Unit]) -> Precedents:
    return Precedents(vectors[chosen], [[units[j].unit_id for j in positives[k]] for k in chosen],
                      [bool(answers[k]) for k in chosen])


def fit_models(fitted: CrossFit):
    """The sentence ranker, the decliner and its threshold, and the topic check's threshold,
    from the cross-fitted features; with the cross-fitted sentence hit@1 and balanced accuracy."""
    plain = ExtractiveAnswerer()
    ranker = fit_network(np.vstack([q[1] for q in fitted.questions]), np.concatenate([q[2] for q in fitted.questions]),
                  SENTENCE_FEATURES, RANKER_HIDDEN)
    rows_q, labels_q, hits, on_topic, right = [], [], [], [], []
    for k, rows, labels, segments, documents, query in fitted.questions:
        logits = ranker.logit(rows)
        order = np.argsort(-logits, kind="stable")
        answerable = fitted.items[k].answerable
        if answerable and labels.any():
            hits.append(bool(labels[order[0]]))
        rows_q.append(plain.question_features(query, [segments[i] for i in order], logits[order], rows[order], documents))
        labels_q.append(int(answerable))
        on_topic.append(documents[0].metadata.get(ON_TOPIC) or 0.0)
        right.append(not answerable or bool(labels[order[0]]))
    rows_q, labels_q = np.vstack(rows_q), np.array(labels_q)
    companion, companion_threshold = _fit_companion(fitted, ranker)
    # the decliner learns to tell a right answer from an unanswerable question: an answerable one
    # whose best candidate is wrong would be answered wrongly either way, and only blurs the line
    learn = np.array(right)
    decliner = fit_network(rows_q[learn], labels_q[learn], QUESTION_FEATURES, DECLINER_HIDDEN)
    threshold, balanced = most_right_threshold(decliner.prob(rows_q[learn]), labels_q[learn])
    topic_threshold = keeping_recall(np.array(on_topic), labels_q, TOPIC_RECALL)
    return ranker, decliner, threshold, topic_threshold, (companion, companion_threshold), float(np.mean(hits)), balanced


def _fit_companion(fitted: CrossFit, ranker: Network) -> tuple[Network, float]:
    """The companion model, from the neighbours of the ranker's first candidate, right or wrong,
    as answering will see them: a neighbour is positive when it is evidence, or holds a string the
    answer must include that the first candidate lacks. (Trained only around right first
    candidates, it never saw evidence before the quoted sentence, nor a near miss beside it: dev
    answers 0.910 against 0.932.) Its threshold is the best F1 of models that did not see the
    question (a neighbour quoted in vain costs length, one left out costs the answer)."""
    rows, labels, folds = [], [], []
    for k, features, matched, segments, _, query in fitted.questions:
        if not any(matched):
            continue
        logits = ranker.logit(features)
        first = int(np.argmax(logits))
        best = segments[first]
        wanted = [m for m in map(compact, fitted.items[k].must_include) if m and m not in compact(best.text)]
        near = described_neighbours(best, segments, features, logits)
        if near:
            rows.append(pair_rows(query, best, float(logits[first]), near))
            evidence = {id(seg) for seg, hit in zip(segments, matched) if hit}
            labels += [id(seg) in evidence or any(m in compact(seg.text) for m in wanted) for _, seg, _, _ in near]
            folds += [k % FOLDS] * len(near)
    rows, labels, folds = np.vstack(rows), np.array(labels), np.array(folds)
    return fit_network(rows, labels, PAIR_FEATURES, COMPANION_HIDDEN), best_f_threshold(_out_of_fold(rows, labels, folds), labels, COMPANION_BETA)


def _out_of_fold(rows: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each companion row's probability from a network that did not see its question. One
    network per fold, the folds fitted side by side: only a threshold is read from these, and it
    moved by 0.02 against three networks per fold, for 40 s less tuning."""
    from joblib import Parallel, delayed

    def fold_fit(fold: int) -> np.ndarray:
        held = folds == fold
        return fit_network(rows[~held], labels[~held], PAIR_FEATURES, COMPANION_HIDDEN, networks=1).prob(rows[held])

    unseen = np.zeros(len(labels))
    for fold, probs in enumerate(Parallel(n_jobs=min(FOLDS, os.cpu_count() or 1))(delayed(fold_fit)(f) for f in range(FOLDS))):
        unseen[folds == fold] = probs
    return unseen


def tune(settings: Settings, index: LoadedIndex, force: bool = False, progress: Progress | None = None,
         wait: bool = True) -> TuneReport:
    """Train (or reuse) the model for the training sets and switch to it: `assistant tune`, and the
    评测 tab's 「重新训练」, which does not wait behind another writer (`wait=False`) but says so."""
    with writer_lock(settings.persist_dir, wait=wait):
        return _tune(settings, index, force, progress)


def _tune(settings: Settings, index: LoadedIndex, force: bool, progress: Progress | None) -> TuneReport:
    tell = progress or (lambda *_: None)
    started = time.perf_counter()
    if index.units is None:
        raise UserError("索引没有句向量（它是用 hashing 字词匹配建的），不能训练；请用语义模型重建索引"
                        "（ASSISTANT_EMBEDDING=auto 或 e5，再运行 assistant index --rebuild）")
    files = training_files(settings)
    if not files:
        raise UserError(f"没有训练集：{settings.train_dir} 中没有，{settings.evals_dir} 中也没有标为 training 的评测集")
    key = training_hash(files, index.manifest.embedding, index.units)
    folder = model_folder(settings.persist_dir, key)
    if not force and (reused := _reuse(settings, key)):
        return reused
    items = _load(files)
    fitted = cross_fit(settings, index, items, tell)
    tell(STEPS[2], 0, 1)
    ranker, decliner, threshold, topic_threshold, companion, hits, balanced = fit_models(fitted)
    tell(STEPS[2], 1, 1)
    tell(STEPS[3], 0, 1)
    adapter = train_adapter(fitted.vectors[fitted.trainable], [fitted.positives[k] for k in fitted.trainable], fitted.sentences)
    tell(STEPS[3], 1, 1)
    tell(STEPS[4], 0, 1)
    answerable = sum(i.answerable for i in items)
    meta = {
        "training_hash": key, "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": [p.name for p in files], "items": len(items), "answerable": answerable,
        "unanswerable": len(items) - answerable, "with_evidence_found": len(fitted.trainable),
        "embedding": index.manifest.embedding, "sentence_hit_at_1": round(hits, 4),
        "decline_accuracy": round(balanced, 4), "seconds": round(time.perf_counter() - started, 1),
        "question_ids": sorted(i.id for i in items),
        # what a held-out set must not repeat (assistant.evaluation.sets): each normalised question → its id
        "question_keys": {question_key(i.question, i.history): i.id for i in items},
    }
    topic = fit_network(fitted.vectors, fitted.answers, dimension_names(fitted.vectors))
    wording = fit_wording(fitted.standalone, fitted.answers)
    precedents = _precedents(np.arange(len(items)), fitted.vectors, fitted.positives, fitted.answers, index.units)
    TrainedModel(adapter, ranker, decliner, topic, threshold, topic_threshold, meta, *companion, wording, precedents).save(folder)
    switch_model(settings.persist_dir, folder)
    tell(STEPS[4], 1, 1)
    return TuneReport(folder, len(items), answerable, len(items) - answerable, meta["seconds"], False,
                      meta["sentence_hit_at_1"], meta["decline_accuracy"], meta["files"])


def ensure_model(settings: Settings, progress: Progress | None = None) -> TuneReport | None:
    """After `assistant index`: train when the training data or the corpus changed (a model for
    both already on disk is only switched to); nothing for an index without sentence vectors."""
    files, build = training_files(settings), current_build(settings.persist_dir)
    found = read_units(build) if build is not None else None
    if found is None or not files:
        return None
    key = training_hash(files, read_manifest(settings.persist_dir).embedding, found[0])
    return _reuse(settings, key) or tune(settings, LoadedIndex.open(settings), progress=progress)
