"""BM25 over jieba tokens (bm25s), persisted with the index so no process re-tokenises the corpus."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np


class LexicalIndex:
    def __init__(self, bm25, doc_freq: dict[str, int], n_docs: int) -> None:
        self._bm25 = bm25
        self.doc_freq = doc_freq
        self.n_docs = n_docs

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> "LexicalIndex":
        import bm25s

        bm25 = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
        bm25.index(token_lists, show_progress=False)
        doc_freq: Counter[str] = Counter()
        for tokens in token_lists:
            doc_freq.update(set(tokens))
        return cls(bm25, dict(doc_freq), len(token_lists))

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder))
        (folder / "doc_freq.json").write_text(
            json.dumps({"n_docs": self.n_docs, "doc_freq": self.doc_freq}, ensure_ascii=False)
        )

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        stats = json.loads((folder / "doc_freq.json").read_text())
        return cls(bm25s.BM25.load(str(folder)), stats["doc_freq"], stats["n_docs"])

    def idf(self, term: str) -> float:
        """Rarity of a term; a term the corpus never uses counts as rarest."""
        df = self.doc_freq.get(term, 0)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        known = [t for t in query_tokens if t in self.doc_freq]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
