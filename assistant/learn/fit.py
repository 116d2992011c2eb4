"""The numerical part of `assistant tune`: the query adapter's matrix, the small networks
(averaged over seeds) and the thresholds picked from cross-fitted probabilities. Pure functions
of arrays: what they learn from is assistant.learn.tune's business."""

from __future__ import annotations

import math
import os
from collections import Counter

import numpy as np

from assistant.index.ranking import Network
from assistant.index.wording import Wording, ngrams, tfidf

NETWORKS = 3  # averaged per classifier, each from its own seed (see fit_network)


def train_adapter(questions: np.ndarray, positives: list[list[int]], sentences: np.ndarray, steps: int = 200,
                  reg: float = 0.01, lr: float = 1e-3, temperature: float = 0.02, batch: int = 512) -> np.ndarray:
    """A dim×dim matrix W, identity at the start: softmax over every sentence of q·W, with all of
    a question's evidence sentences as positives, plus reg·‖W − I‖². Each step takes `batch`
    questions (seeded, so the same ones on every run): the softmax over all sentences is the
    cost, and a full batch of ~3,000 questions made it 16 s an adapter."""
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
    order = torch.cat([torch.randperm(len(Q)) for _ in range(steps * batch // max(len(Q), 1) + 1)])
    for step in range(steps):
        rows = order[step * batch:(step + 1) * batch]
        logits = torch.nn.functional.normalize(Q[rows] @ W, dim=1) @ P.T / temperature
        loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~target[rows], -1e9), 1)).mean()
        loss = loss + reg * ((W - eye) ** 2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return W.detach().numpy().astype(np.float32)


def fit_network(rows: np.ndarray, labels: np.ndarray, names: list[str], hidden: int = 0, networks: int = NETWORKS) -> Network:
    """A logistic regression (hidden=0, classes balanced) or one-hidden-layer networks.

    NETWORKS networks, started from different seeds, are averaged: one alone moved the
    development answer accuracy by ±0.01 with its seed. Their mean logit is itself one network
    (their hidden layers side by side, each output weight divided by their number). They are
    fitted in parallel processes: each from its own seed, so the same networks in any order."""
    from joblib import Parallel, delayed
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    mean, scale = rows.mean(0), rows.std(0)
    scale[scale == 0] = 1.0
    z = (rows - mean) / scale
    if hidden:
        nets = Parallel(n_jobs=min(networks, os.cpu_count() or 1))(
            delayed(MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1e-2, max_iter=1000, random_state=seed).fit)(z, labels)
            for seed in range(networks)
        )
        weights = [np.hstack([n.coefs_[0] for n in nets]).tolist(), (np.vstack([n.coefs_[1] for n in nets]) / len(nets)).tolist()]
        biases = [np.concatenate([n.intercepts_[0] for n in nets]).tolist(), np.mean([n.intercepts_[1] for n in nets], axis=0).tolist()]
    else:
        net = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(z, labels)
        weights, biases = [net.coef_.T.tolist()], [net.intercept_.tolist()]
    return Network(names, mean.tolist(), scale.tolist(), weights, biases)


def dimension_names(vectors: np.ndarray) -> list[str]:
    return [f"dim_{i}" for i in range(vectors.shape[1])]


def fit_wording(texts: list[str], labels: np.ndarray, min_count: int = 2, C: float = 16.0) -> Wording:
    """The wording model over the n-grams found in at least `min_count` questions. C=16 (weakly
    regularised) measured best of 1/4/16 on the development sets (AUC 0.955/0.977/0.984)."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    counts = Counter(g for text in texts for g in ngrams(text))
    vocabulary = sorted(g for g, n in counts.items() if n >= min_count)
    idf = [math.log((1 + len(texts)) / (1 + counts[g])) + 1.0 for g in vocabulary]
    column = {g: j for j, g in enumerate(vocabulary)}
    rows = [tfidf(text, column, idf) for text in texts]
    matrix = csr_matrix(
        ([v for r in rows for v in r.values()], ([i for i, r in enumerate(rows) for _ in r], [j for r in rows for j in r])),
        shape=(len(texts), len(vocabulary)),
    )
    fitted = LogisticRegression(C=C, max_iter=5000).fit(matrix, labels)
    return Wording(vocabulary, idf, fitted.coef_[0].tolist(), float(fitted.intercept_[0]))


def keeping_recall(probs: np.ndarray, labels: np.ndarray, recall: float) -> float:
    """The highest threshold under which at most 1 - `recall` of the answerable questions fall."""
    return float(np.quantile(probs[labels == 1], 1.0 - recall))


def most_right_threshold(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The threshold that gets the most cross-fitted questions right, and its balanced accuracy.

    Most right, not best balanced: the training questions mix answerable and unanswerable ones
    about as officials' questions do (4 to 1), and the balanced point, which weighs the two
    alike, declined answerable questions the model had ranked right (development sets: answer
    0.863 → 0.923, refusal 0.951 → 0.918; every question declined before and answered now asks a
    detail of a subject the report covers, none is off-topic)."""
    best, best_right = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        right = float(((probs >= t) == (labels == 1)).mean())
        if right > best_right + 1e-9:
            best, best_right = float(t), right
    said = probs >= best
    return best, float(0.5 * (said[labels == 1].mean() + (~said[labels == 0]).mean()))


def best_f_threshold(probs: np.ndarray, labels: np.ndarray, beta: float = 1.0) -> float:
    """The threshold with the best F-beta: beta > 1 weighs a positive left out beta² times a
    negative let in."""
    def f(t: float) -> float:
        said = probs >= t
        hits = float((said & labels).sum())
        return (1 + beta**2) * hits / (said.sum() + beta**2 * labels.sum()) if hits else 0.0

    return round(float(max(np.linspace(0.05, 0.95, 91), key=f)), 2)
