"""Embeddings as LangChain `Embeddings`: a weightless Chinese default and sentence-transformers.

No Chinese model can be downloaded here, and an English model finds the right passage for
few Chinese questions, so the default is hashed character n-grams with IDF weighting: it
needs no weights, reads Chinese character by character, and is fitted to the corpus at
index time. A real model (e.g. BAAI/bge-small-zh-v1.5) is used when it is on local disk;
nothing here ever downloads.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from operator import add
from pathlib import Path
from typing import Iterable

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import UserError

HASHING = "hashing"
SENTENCE_TRANSFORMERS = "sentence-transformers"


@dataclass(frozen=True)
class EmbeddingSpec:
    """What built an index; a query must use the same, so it is stored with the index."""

    kind: str
    model: str
    dim: int

    def describe(self) -> str:
        return f"{self.kind}:{self.model} ({self.dim} dims)"


_NOT_ALNUM = re.compile(r"[\W_]+")  # Python's \w is str.isalnum() plus "_"


def _ngrams(text: str) -> Iterable[str]:
    """Alphanumeric characters (NFKC, lower case), then the bigrams of adjacent ones."""
    chars = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).lower())
    return chain(chars, map(add, chars, chars[1:]))


@lru_cache(maxsize=200_000)
def _bucket(gram: str, dim: int) -> tuple[int, float]:
    h = zlib.crc32(gram.encode("utf-8"))
    return h % dim, 1.0 if (h >> 31) & 1 else -1.0


class HashingEmbeddings(Embeddings):
    """TF-IDF over character unigrams and bigrams, feature-hashed into `dim` signed buckets."""

    def __init__(self, dim: int = 2048, idf: dict[str, float] | None = None, n_docs: int = 0) -> None:
        self.dim = dim
        self.idf = idf or {}
        self.n_docs = n_docs
        self._weights: dict[str, tuple[int, float]] = {}  # per fitted state, emptied by fit()

    @property
    def spec(self) -> EmbeddingSpec:
        return EmbeddingSpec(HASHING, "char-1-2gram-idf", self.dim)

    def fit(self, texts: list[str]) -> "HashingEmbeddings":
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(_ngrams(text)))
        self.n_docs = len(texts)
        self.idf = {g: math.log((1 + self.n_docs) / (1 + c)) + 1.0 for g, c in df.items()}
        self._weights = {}
        return self

    def _unseen_idf(self) -> float:
        return math.log(1 + self.n_docs) + 1.0

    def _weight(self, gram: str) -> tuple[int, float]:
        """(bucket, signed IDF) of a gram; known grams are cached, a corpus repeats most of them."""
        found = self._weights.get(gram)
        if found is None:
            bucket, sign = _bucket(gram, self.dim)
            idf = self.idf.get(gram)
            found = (bucket, sign * (self._unseen_idf() if idf is None else idf))
            if idf is not None:  # only the fitted vocabulary: queries must not grow the cache
                self._weights[gram] = found
        return found

    def matrix(self, texts: list[str]) -> np.ndarray:
        """Unit-length rows, one per text: sum of sign·(1+log tf)·idf per bucket, as numpy."""
        out = np.zeros((len(texts), self.dim))
        for row, text in enumerate(texts):
            counts = Counter(_ngrams(text))
            if not counts:
                continue
            buckets, signed_idf = zip(*map(self._weight, counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            out[row] = np.bincount(buckets, weights=np.asarray(signed_idf) * tf, minlength=self.dim)
        norms = np.sqrt(np.einsum("ij,ij->i", out, out))
        norms[norms == 0.0] = 1.0
        return out / norms[:, None]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.matrix(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.matrix([text])[0].tolist()

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"dim": self.dim, "n_docs": self.n_docs, "idf": self.idf}, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> "HashingEmbeddings":
        data = json.loads(path.read_text())
        return cls(dim=data["dim"], idf=data["idf"], n_docs=data["n_docs"])


class SentenceTransformerEmbeddings(Embeddings):
    """A sentence-transformers bi-encoder loaded from local files only."""

    def __init__(self, model_name_or_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name_or_path
        self.model = SentenceTransformer(model_name_or_path, device="cpu", local_files_only=True)

    @property
    def spec(self) -> EmbeddingSpec:
        return EmbeddingSpec(SENTENCE_TRANSFORMERS, self.model_name, self.model.get_sentence_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(texts, normalize_embeddings=True, batch_size=32).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.encode([text], normalize_embeddings=True)[0].tolist()


def local_model_available(name_or_path: str) -> bool:
    """True when the model is a local folder or already in the Hugging Face cache (no network)."""
    if Path(name_or_path).expanduser().is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub ships with sentence-transformers
        return False
    found = try_to_load_from_cache(name_or_path, "config.json")
    return isinstance(found, str)


def choose_kind(requested: str, model: str) -> str:
    """Resolve 'auto' to the kind to build with."""
    if requested == "auto":
        return SENTENCE_TRANSFORMERS if local_model_available(model) else HASHING
    if requested == SENTENCE_TRANSFORMERS and not local_model_available(model):
        raise UserError(
            f"embedding model '{model}' is not on this machine; put it in a local folder and set "
            "ASSISTANT_EMBEDDING_MODEL to that path, or use ASSISTANT_EMBEDDING=hashing"
        )
    return requested
