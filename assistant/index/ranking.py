"""What `assistant tune` learns, and how answering uses it: a query adapter and five classifiers.

- The adapter is a square matrix applied to the question's vector before the sentence search:
  trained on question → evidence-sentence pairs, it moves the report's own sentences toward the
  ways officials ask about them.
- The sentence ranker scores each candidate sentence from features (the adapted vector's
  similarity, BM25, the hand-written coverage score, numbers and units, the passage's rank…);
  the decliner says, from features of the best candidate, whether the report answers at all;
  the topic model, from the question's own vector, how much it sounds like what the report answers,
  and the wording model the same from its characters (assistant.index.wording);
  the companion model, which neighbours of the quoted sentence complete it (assistant.answer.companions).
- The precedents are the training questions themselves with their evidence sentences
  (assistant.index.precedents): what the nearest of them say is one more feature of the ranker
  and of the decliner.

The ranker and the decliner are small neural networks (one hidden layer), the topic model a
logistic regression, all fitted by scikit-learn at tuning time and stored as plain weights, so
answering needs numpy only. The networks beat logistic regressions on the same cross-fitted
features (sentence top-1 0.875 against 0.852; the decliner kept 0.92 of the answerable questions
against 0.88, declining 0.82 of the others against 0.84). A model lives in
`<index>/models/<training hash>/`; the file `<index>/MODEL` names the one in use.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.index.precedents import Precedents, Verdict
from assistant.index.wording import Wording

MODELS = "models"
POINTER = "MODEL"


@dataclass
class Network:
    """A feed-forward classifier over named features (ReLU between layers; with no hidden layer,
    a logistic regression), with the standardisation it was fitted on."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[list[list[float]]]
    biases: list[list[float]]

    def __post_init__(self) -> None:
        # as arrays once, not on every question
        self._mean, self._scale = np.asarray(self.mean), np.asarray(self.scale)
        self._layers = [(np.asarray(w), np.asarray(b)) for w, b in zip(self.weights, self.biases)]

    def logit(self, rows: np.ndarray) -> np.ndarray:
        h = (rows - self._mean) / self._scale
        for depth, (w, b) in enumerate(self._layers):
            h = h @ w + b
            if depth < len(self._layers) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]

    def prob(self, rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(rows)))


@dataclass
class TrainedModel:
    adapter: np.ndarray | None = None  # dim × dim, applied as q @ adapter
    ranker: Network | None = None
    decliner: Network | None = None
    topic: Network | None = None  # P(the report answers | the question's own vector), before any search
    threshold: float = 0.5  # of the decliner's probability that the report answers
    topic_threshold: float = 0.0  # below it the question is off the report's topics, whatever is found
    meta: dict = field(default_factory=dict)
    companion: Network | None = None  # P(a neighbour of the quoted sentence completes the answer)
    companion_threshold: float = 0.5
    wording: Wording | None = None  # P(the report answers | the question's characters)
    precedents: Precedents | None = None  # the training questions (assistant.index.precedents)

    def adapt(self, vector: np.ndarray) -> np.ndarray:
        if self.adapter is None:
            return vector
        out = vector @ self.adapter
        return out / (np.linalg.norm(out) or 1.0)

    def on_topic(self, vector: np.ndarray) -> float | None:
        return None if self.topic is None else float(self.topic.prob(vector[None, :])[0])

    def sounds_answerable(self, question: str) -> float | None:
        return None if self.wording is None else self.wording.prob(question)

    def precedent(self, vector: np.ndarray) -> Verdict | None:
        return None if self.precedents is None else self.precedents.verdict(vector)

    def save(self, folder: Path) -> None:
        """Written beside `folder`, then renamed into place: a reader finds it whole or not at all."""
        staging = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        np.save(staging / "adapter.npy", self.adapter.astype(np.float32))
        if self.precedents is not None:
            np.save(staging / "precedents.npy", self.precedents.vectors.astype(np.float32))
        doc = {"ranker": asdict(self.ranker), "decliner": asdict(self.decliner), "topic": asdict(self.topic),
               "companion": asdict(self.companion) if self.companion else None,
               "companion_threshold": self.companion_threshold,
               "wording": self.wording.to_dict() if self.wording else None,
               "precedents": {"units": self.precedents.units, "answerable": self.precedents.answerable}
               if self.precedents else None,
               "threshold": self.threshold, "topic_threshold": self.topic_threshold, "meta": self.meta}
        (staging / "model.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # (only a forced retrain replaces a model)
        os.replace(staging, folder)

    @classmethod
    def load(cls, folder: Path) -> "TrainedModel":
        doc = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        return cls(
            adapter=np.load(folder / "adapter.npy"),
            ranker=Network(**doc["ranker"]),
            decliner=Network(**doc["decliner"]),
            topic=Network(**doc["topic"]),
            threshold=doc["threshold"],
            topic_threshold=doc["topic_threshold"],
            meta=doc["meta"],
            companion=Network(**doc["companion"]) if doc.get("companion") else None,
            companion_threshold=doc.get("companion_threshold", 0.5),
            wording=Wording(**doc["wording"]) if doc.get("wording") else None,
            precedents=Precedents(np.load(folder / "precedents.npy"), **doc["precedents"]) if doc.get("precedents") else None,
        )


def model_folder(persist: Path, training_hash: str) -> Path:
    return persist / MODELS / training_hash[:16]


def current_model_meta(persist: Path) -> dict | None:
    folder = _pointed(persist)
    if folder is None:
        return None
    try:
        return json.loads((folder / "model.json").read_text(encoding="utf-8"))["meta"]
    except (OSError, ValueError, KeyError):
        return None


def _pointed(persist: Path) -> Path | None:
    pointer = persist / POINTER
    if not pointer.is_file():
        return None
    folder = persist / MODELS / pointer.read_text(encoding="utf-8").strip()
    return folder if (folder / "model.json").is_file() else None


def switch_model(persist: Path, folder: Path) -> None:
    tmp = persist / f".{POINTER}.{folder.name}.tmp"
    tmp.write_text(folder.name, encoding="utf-8")
    os.replace(tmp, persist / POINTER)


def load_model(persist: Path, spec) -> TrainedModel | None:
    """The model in use, when it was trained on vectors of this embedding; else none."""
    folder = _pointed(persist)
    if folder is None:
        return None
    try:
        model = TrainedModel.load(folder)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged model is retrained by `assistant index`; answering goes on without it
    return model if model.meta.get("embedding") == spec.__dict__ else None
