"""The wording model: how much a question's own characters sound like the questions the report answers.

A logistic regression over the question's character uni- and bigrams (TF-IDF, sublinear, L2
normalised). It hears what the question's vector blurs and what the term analysis drops as
small talk: a request to change a figure (「往上改改」), or an attribute the training questions
the report cannot answer keep asking for (出口, 规上企业, 龙头企业是哪几家). Its verdict is one of
the decliner's features. (On the development sets, alone: AUC 0.984 for answerable against
not, where the question vector's topic model has 0.923; among the questions the decliner
answered, 0.906 against 0.793.)

The n-grams and their weights are computed here, for training and answering alike, not by
scikit-learn's TfidfVectorizer: importing scikit-learn costs a cold `assistant ask` a second.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

_SPACES = re.compile(r"\s+")
N = 2  # the longest n-gram


def ngrams(text: str) -> Counter:
    """Every character n-gram of 1..N characters, spaces folded to one."""
    text = _SPACES.sub(" ", text.lower())
    return Counter(text[i:i + n] for n in range(1, N + 1) for i in range(len(text) - n + 1))


def tfidf(text: str, column: dict[str, int], idf: list[float]) -> dict[int, float]:
    """column → weight of the text's known n-grams: (1 + log tf) · idf, L2 normalised."""
    raw = {column[g]: (1.0 + math.log(tf)) * idf[column[g]] for g, tf in ngrams(text).items() if g in column}
    norm = math.sqrt(math.fsum(v * v for v in raw.values())) or 1.0
    return {j: v / norm for j, v in raw.items()}


@dataclass
class Wording:
    vocabulary: list[str]
    idf: list[float]
    coef: list[float]
    intercept: float
    column: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.column = {g: j for j, g in enumerate(self.vocabulary)}

    def weights(self, text: str) -> dict[int, float]:
        return tfidf(text, self.column, self.idf)

    def prob(self, text: str) -> float:
        logit = self.intercept + math.fsum(self.coef[j] * v for j, v in self.weights(text).items())
        return 0.5 * (1.0 + math.tanh(logit / 2))  # the logistic function, without overflow

    def to_dict(self) -> dict:
        return {"vocabulary": self.vocabulary, "idf": self.idf, "coef": self.coef, "intercept": self.intercept}
