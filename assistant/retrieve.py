"""Hybrid retrieval as a LangChain retriever: BM25 over jieba tokens fused with Chroma vectors.

Lexical matching is what finds Chinese facts reliably here; vectors add robustness to
segmentation and, with a real model, to paraphrase. Scores are max-normalised per side and
mixed linearly, so a fused score of 1.0 means "best on both sides".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.chunk import Chunk
from assistant.index import LoadedIndex


class HybridRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: LoadedIndex
    k: int = 8
    bm25_weight: float = 0.6
    candidates: int = 30
    reranker: Any = None  # optional assistant.rerank.Reranker

    def _bm25(self, query: str) -> np.ndarray:
        return self.index.lexical.scores(self.index.tokenizer.tokens(query))

    def _vectors(self, query: str) -> dict[int, float]:
        if self.bm25_weight >= 1.0:
            return {}
        vector = self.index.embeddings.embed_query(query)
        found = self.index.store.similarity_search_by_vector_with_relevance_scores(
            vector, k=min(self.candidates, len(self.index.chunks))
        )
        position = self.index.position
        return {position[doc.metadata["chunk_id"]]: 1.0 - float(distance) for doc, distance in found}

    def search(self, query: str) -> list[tuple[Chunk, float, float, float]]:
        """(chunk, fused, bm25, vector) in rank order."""
        bm25 = self._bm25(query) if self.bm25_weight > 0 else np.zeros(len(self.index.chunks))
        vectors = self._vectors(query)
        bm25_max = float(bm25.max()) if len(bm25) else 0.0
        vec_max = max(vectors.values(), default=0.0)
        top_lexical = np.argsort(-bm25)[: self.candidates] if bm25_max > 0 else []
        pool = set(int(i) for i in top_lexical) | set(vectors)
        scored = []
        for i in pool:
            lexical = float(bm25[i]) / bm25_max if bm25_max > 0 else 0.0
            vector = vectors.get(i, 0.0) / vec_max if vec_max > 0 else 0.0
            fused = self.bm25_weight * lexical + (1 - self.bm25_weight) * vector
            scored.append((self.index.chunks[i], fused, float(bm25[i]), vectors.get(i, 0.0)))
        scored.sort(key=lambda row: (-row[1], row[0].order))
        if self.reranker is not None:
            scored = self.reranker.rerank(query, scored)
        return scored[: self.k]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                page_content=chunk.text,
                metadata={**chunk.metadata(), "score": fused, "bm25": bm25, "vector": vector},
            )
            for chunk, fused, bm25, vector in self.search(query)
        ]
