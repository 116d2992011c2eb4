"""What `assistant tune` learns, and how answering uses it: a query adapter and two linear models.

- The adapter is a square matrix applied to the question's vector before the sentence search:
  trained on question → evidence-sentence pairs, it moves the report's own sentences toward the
  ways officials ask about them.
- The sentence ranker scores each candidate sentence from features (the adapted vector's
  similarity, BM25, the hand-written coverage score, numbers and units, the passage's rank…);
  the decliner says, from features of the best candidate, whether the report answers at all.

Both are logistic regressions fitted by scikit-learn at tuning time and stored as plain weights,
so answering needs numpy only. A model lives in `<index>/models/<training hash>/`; the file
`<index>/MODEL` names the one in use.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODELS = "models"
POINTER = "MODEL"


@dataclass
class LinearModel:
    """A logistic regression over named features, with the standardisation it was fitted on."""

    features: list[str]
    coef: list[float]
    intercept: float
    mean: list[float]
    scale: list[float]

    def logit(self, rows: np.ndarray) -> np.ndarray:
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.coef) + self.intercept

    def prob(self, rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(rows)))


@dataclass
class TrainedModel:
    adapter: np.ndarray | None = None  # dim × dim, applied as q @ adapter
    ranker: LinearModel | None = None
    decliner: LinearModel | None = None
    topic: LinearModel | None = None  # P(the report answers | the question's own vector), before any search
    threshold: float = 0.5  # of the decliner's probability that the report answers
    meta: dict = field(default_factory=dict)

    def adapt(self, vector: np.ndarray) -> np.ndarray:
        if self.adapter is None:
            return vector
        out = vector @ self.adapter
        return out / (np.linalg.norm(out) or 1.0)

    def on_topic(self, vector: np.ndarray) -> float | None:
        return None if self.topic is None else float(self.topic.prob(vector[None, :])[0])

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "adapter.npy", self.adapter.astype(np.float32))
        doc = {"ranker": self.ranker.__dict__, "decliner": self.decliner.__dict__, "topic": self.topic.__dict__,
               "threshold": self.threshold, "meta": self.meta}
        (folder / "model.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "TrainedModel":
        doc = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        return cls(
            adapter=np.load(folder / "adapter.npy"),
            ranker=LinearModel(**doc["ranker"]),
            decliner=LinearModel(**doc["decliner"]),
            topic=LinearModel(**doc["topic"]),
            threshold=doc["threshold"],
            meta=doc["meta"],
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
