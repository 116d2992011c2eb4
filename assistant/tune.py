"""`assistant tune`: learn the query adapter and the rankers from the training sets.

Training sets (`evals/train/*.jsonl`, the evaluation format) pair questions with the report's
evidence sentences, and list questions the report cannot answer. Nothing here reads a
held-out set. Steps, all deterministic:

1. every question is made standalone as answering makes it (follow-ups condensed) and embedded
   (through the embedding cache);
2. the adapter: a square matrix on the question vector, trained with a softmax over all of the
   corpus's sentences (the evidence sentences are the positives), pulled lightly toward identity;
3. cross-fitting: five adapters, each trained without one fifth of the questions, retrieve and
   describe the candidates of that fifth, so the rankers learn from similarities as they look
   for questions the adapter has not seen;
4. the sentence ranker (is this candidate an evidence sentence?) and the decliner (does the
   report answer this question?) are logistic regressions over those features; the decliner's
   threshold is the one with the best balanced accuracy over the cross-fitted questions. One of
   the decliner's features is a third logistic regression, on the question's own vector: how
   much it sounds like the questions the report answers (weather, exams and other provinces
   do not), before anything is searched.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.answer import ExtractiveAnswerer
from assistant.conversation import condense
from assistant.errors import UserError
from assistant.evaluate import EvalItem, load_eval_set
from assistant.features import QUESTION_FEATURES, SENTENCE_FEATURES
from assistant.index import LoadedIndex
from assistant.normalize import compact, normalize_query
from assistant.query import analyse
from assistant.ranking import LinearModel, TrainedModel, model_folder, switch_model
from assistant.retrieve import HybridRetriever
from assistant.settings import Settings

TUNE_VERSION = 3  # part of the training hash: a change of features or method retrains
FOLDS = 5
Progress = Callable[[str, int, int], None]
TOPIC_FEATURES = [f"e5_{i}" for i in range(384)]


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


def training_files(settings: Settings) -> list[Path]:
    folder = settings.train_dir
    return sorted(p for p in folder.glob("*.jsonl")) if folder.is_dir() else []


def training_hash(files: list[Path], index: LoadedIndex) -> str:
    """Of the training data, the corpus's sentences and the method: any change retrains."""
    digest = hashlib.sha256(f"tune-v{TUNE_VERSION}\x1f{index.manifest.embedding}".encode())
    for path in files:
        digest.update(path.name.encode() + b"\x1f" + path.read_bytes())
    for unit in index.units or []:
        digest.update(unit.text.encode() + b"\x1e")
    return digest.hexdigest()


def _load(files: list[Path]) -> list[EvalItem]:
    items: list[EvalItem] = []
    for path in files:
        items.extend(load_eval_set(path).items)
    if not items:
        raise UserError(f"no training items in {', '.join(map(str, files))}")
    return items


def _matches(evidence: list[str], text: str) -> bool:
    flat = compact(text)
    return any((e := compact(ev)) and (e in flat or (len(flat) >= 6 and flat in e)) for ev in evidence)


class _Known(Embeddings):
    """The questions' vectors, embedded once for all folds."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text].tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError("tuning embeds no documents")


def train_adapter(questions: np.ndarray, positives: list[list[int]], sentences: np.ndarray,
                  steps: int = 200, reg: float = 0.01, lr: float = 1e-3, temperature: float = 0.02) -> np.ndarray:
    """A dim×dim matrix W, identity at the start: softmax over every sentence of q·W, with all of
    a question's evidence sentences as positives, plus reg·‖W − I‖²."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)  # the same result on every machine
    Q, P = torch.from_numpy(questions).float(), torch.from_numpy(sentences).float()
    target = torch.zeros(len(Q), len(P), dtype=torch.bool)
    for row, cols in enumerate(positives):
        target[row, cols] = True
    eye = torch.eye(P.shape[1])
    W = eye.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([W], lr=lr)
    for _ in range(steps):
        logits = torch.nn.functional.normalize(Q @ W, dim=1) @ P.T / temperature
        loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~target, -1e9), 1)).mean()
        loss = loss + reg * ((W - eye) ** 2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return W.detach().numpy().astype(np.float32)


def _fit(rows: np.ndarray, labels: np.ndarray, names: list[str]) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = rows.mean(0), rows.std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit((rows - mean) / scale, labels)
    return LinearModel(names, model.coef_[0].tolist(), float(model.intercept_[0]), mean.tolist(), scale.tolist())


def _balanced_threshold(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    best = (0.5, 0.0)
    for t in np.linspace(0.05, 0.95, 91):
        said = probs >= t
        score = 0.5 * (said[labels == 1].mean() + (~said[labels == 0]).mean())
        if score > best[1] + 1e-9:
            best = (float(t), float(score))
    return best


def tune(settings: Settings, index: LoadedIndex, force: bool = False, progress: Progress | None = None) -> TuneReport:
    tell = progress or (lambda *_: None)
    started = time.perf_counter()
    if index.units is None:
        raise UserError("the index has no sentence vectors (it was built with the hashing embedding); "
                        "build it with a model (ASSISTANT_EMBEDDING=auto or e5) to tune")
    files = training_files(settings)
    if not files:
        raise UserError(f"no training sets (*.jsonl) in {settings.train_dir}")
    key = training_hash(files, index)
    folder = model_folder(settings.persist_dir, key)
    if (folder / "model.json").is_file() and not force:
        try:
            meta = TrainedModel.load(folder).meta
        except (OSError, ValueError, KeyError, TypeError):
            meta = None  # damaged: trained again below
        if meta is not None:
            switch_model(settings.persist_dir, folder)
            return TuneReport(folder, meta["items"], meta["answerable"], meta["unanswerable"], 0.0, True,
                              meta["sentence_hit_at_1"], meta["decline_accuracy"])
    items = _load(files)
    standalone = [condense(normalize_query(i.question), list(i.history), index.tokenizer) for i in items]
    tell("问题向量化", 0, len(items))
    vectors = index.embeddings.matrix(standalone, role="query")
    tell("问题向量化", len(items), len(items))
    units = index.units
    sentences = np.load(index.build / "units.npy")
    positives = [[j for j, u in enumerate(units) if _matches(i.evidence, u.text)] if i.answerable else [] for i in items]
    trainable = [k for k, p in enumerate(positives) if p]
    folds = np.arange(len(items)) % FOLDS
    known = _Known(dict(zip(standalone, vectors)))
    answers = np.array([int(i.answerable) for i in items])
    plain = ExtractiveAnswerer()
    sentence_rows, sentence_labels, question_rows, question_labels, hits = [], [], [], [], []
    per_question: list[tuple[int, np.ndarray, np.ndarray, list]] = []
    for fold in range(FOLDS):
        tell("交叉训练", fold, FOLDS)
        train = [k for k in trainable if folds[k] != fold]
        adapter = train_adapter(vectors[train], [positives[k] for k in train], sentences)
        topic = _fit(vectors[folds != fold], answers[folds != fold], TOPIC_FEATURES)
        view = replace(index, embeddings=known, model=TrainedModel(adapter=adapter, topic=topic))
        retriever = HybridRetriever(index=view, k=settings.retrieve_k, bm25_weight=settings.bm25_weight)
        for k in np.flatnonzero(folds == fold):
            documents = retriever.invoke(standalone[k])
            query = analyse(standalone[k], index)
            if not query.terms or not documents:
                continue
            segments, rows = plain.candidates(query, documents)
            labels = np.array([_matches(items[k].evidence, s.text) for s in segments]) if items[k].answerable else np.zeros(len(segments), bool)
            sentence_rows.append(rows)
            sentence_labels.append(labels)
            per_question.append((k, rows, labels, segments, documents, query))
    tell("交叉训练", FOLDS, FOLDS)
    ranker = _fit(np.vstack(sentence_rows), np.concatenate(sentence_labels), SENTENCE_FEATURES)
    for k, rows, labels, segments, documents, query in per_question:
        logits = ranker.logit(rows)
        order = np.argsort(-logits, kind="stable")
        if items[k].answerable and labels.any():
            hits.append(bool(labels[order[0]]))
        question_rows.append(plain.question_features(query, [segments[i] for i in order], logits[order], rows[order], documents))
        question_labels.append(int(items[k].answerable))
    decliner = _fit(np.vstack(question_rows), np.array(question_labels), QUESTION_FEATURES)
    threshold, balanced = _balanced_threshold(decliner.prob(np.vstack(question_rows)), np.array(question_labels))
    tell("训练查询适配器", 0, 1)
    adapter = train_adapter(vectors[trainable], [positives[k] for k in trainable], sentences)
    tell("训练查询适配器", 1, 1)
    answerable = sum(i.answerable for i in items)
    meta = {
        "training_hash": key, "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": [p.name for p in files], "items": len(items), "answerable": answerable,
        "unanswerable": len(items) - answerable, "with_evidence_found": len(trainable),
        "embedding": index.manifest.embedding, "sentence_hit_at_1": round(float(np.mean(hits)), 4),
        "decline_accuracy": round(balanced, 4), "seconds": round(time.perf_counter() - started, 1),
        "question_ids": sorted(i.id for i in items),
    }
    topic = _fit(vectors, answers, TOPIC_FEATURES)
    TrainedModel(adapter, ranker, decliner, topic, threshold, meta).save(folder)
    switch_model(settings.persist_dir, folder)
    return TuneReport(folder, len(items), answerable, len(items) - answerable, meta["seconds"], False,
                      meta["sentence_hit_at_1"], meta["decline_accuracy"])


def ensure_model(settings: Settings, progress: Progress | None = None) -> TuneReport | None:
    """After `assistant index`: train when the training data or the corpus changed (a model for
    both already on disk is only switched to); nothing for an index without sentence vectors."""
    index = LoadedIndex.open(settings)
    if index.units is None or not training_files(settings):
        return None
    return tune(settings, index, progress=progress)
