"""Hybrid retrieval as a LangChain retriever: BM25 over jieba tokens fused with Chroma vectors.

Lexical matching is what finds Chinese facts reliably here; vectors add robustness to
segmentation and, with a real model, to paraphrase. Scores are max-normalised per side and
mixed linearly, so a fused score of 1.0 means "best on both sides".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.answer.query import LISTING, NAMED_SECTION_LEADS, analyse, title_coverage
from assistant.index.loaded import LoadedIndex
from assistant.index.sentence_index import Unit
from assistant.ingest.chunk import PATH_SEPARATOR, Chunk
from assistant.ingest.outline import asked_item, heading_number, item_mark


ON_TOPIC = "on_topic"  # metadata key: how likely the report answers the question (the topic model)
WORDING = "wording"  # metadata key: the same, from the question's characters (the wording model)
PRECEDENTS = "precedents"  # metadata key: unit start → similarity of the nearest training question it answers
NEAR_ANSWERABLE = "near_answerable"  # metadata keys: similarity of the nearest training question the report
NEAR_UNANSWERABLE = "near_unanswerable"  # answers, and of the nearest one it cannot
POOL = 512  # what Chroma is asked for, at least: the k nearest are chosen from it by exact distance


def _nearest(store, vector: list[float], k: int, total: int) -> list[tuple[str, float]]:
    """The k nearest (id, distance) by (distance, id), from a pool of POOL (a whole report's
    sentences).

    Chroma's HNSW graph is rebuilt by threads in every process, so its approximate k nearest
    differed at the edge from one process to the next (385 of 2,000 searches for 60 of the
    report's 301 sentences; 17 of 1,065 eval answers changed between two runs of one index). Its
    distances are exact, so choosing from a pool that holds every sentence gives the same
    nearest ones in every process. Only ids and distances are read: building a LangChain
    Document for each of the pool took 5 of the search's 7 ms."""
    found = store._collection.query(query_embeddings=[vector], n_results=min(max(POOL, k), total), include=["distances"])
    return [(i, d) for d, i in sorted(zip(found["distances"][0], found["ids"][0]))[:k]]


@dataclass
class DenseHits:
    """What the vector side found: chunk position → similarity; with a sentence index also
    chunk id → {unit start: similarity} of the sentences found, the topic and wording models'
    verdicts, and the nearest training questions' (chunk id → {unit start: similarity})."""

    chunks: dict[int, float] = field(default_factory=dict)
    sentences: dict[str, dict[int, float]] = field(default_factory=dict)
    on_topic: float | None = None
    wording: float | None = None
    precedents: dict[str, dict[int, float]] = field(default_factory=dict)
    near_answerable: float | None = None
    near_unanswerable: float | None = None


class HybridRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: LoadedIndex
    k: int = 8
    bm25_weight: float = 0.6
    candidates: int = 30
    sentence_candidates: int = 60
    reranker: Any = None  # optional assistant.answer.rerank.Reranker

    def _bm25(self, query: str) -> np.ndarray:
        return self.index.lexical.scores(self.index.tokenizer.tokens(query))

    def _vectors(self, query: str) -> DenseHits:
        if self.bm25_weight >= 1.0:
            return DenseHits()
        vector = self.index.embeddings.embed_query(query)
        if self.index.sentence_store is not None:
            hits = self._sentences(np.asarray(vector, dtype=np.float32))
            hits.wording = self.index.model.sounds_answerable(query) if self.index.model is not None else None
            return hits
        found = _nearest(self.index.store, vector, self.candidates, len(self.index.chunks))
        return DenseHits({self.index.position[chunk_id]: 1.0 - float(distance) for chunk_id, distance in found})

    def _sentences(self, vector: np.ndarray) -> DenseHits:
        """The sentences nearest the (adapted) question; a chunk scores as its best sentence."""
        model = self.index.model
        hits = self._precedents(DenseHits(on_topic=model.on_topic(vector) if model is not None else None), vector)
        found = _nearest(self.index.sentence_store, (model.adapt(vector) if model is not None else vector).tolist(),
                         self.sentence_candidates, len(self.index.units))
        for unit_id, distance in found:
            similarity, unit = 1.0 - float(distance), self._units[unit_id]
            hits.sentences.setdefault(unit.chunk_id, {})[unit.start] = similarity
            at = self.index.position[unit.chunk_id]
            hits.chunks[at] = max(hits.chunks.get(at, -1.0), similarity)
        return hits

    def _precedents(self, hits: DenseHits, vector: np.ndarray) -> DenseHits:
        """`hits` with what the nearest training questions say (a sentence this index no longer
        has, the model being older than the build, is passed over)."""
        model = self.index.model
        if (verdict := model.precedent(vector) if model is not None else None) is not None:
            hits.near_answerable, hits.near_unanswerable = verdict.answerable, verdict.unanswerable
            for unit_id, similarity in verdict.units.items():
                if (unit := self._units.get(unit_id)) is not None:
                    hits.precedents.setdefault(unit.chunk_id, {})[unit.start] = similarity
        return hits

    @cached_property
    def _units(self) -> dict[str, Unit]:
        return {unit.unit_id: unit for unit in self.index.units or []}

    @cached_property
    def _children(self) -> dict[tuple[str, str], list[Chunk]]:
        """(source, section path) → the first chunk of each of its numbered sub-sections, in
        document order: the outline's items (「（二）存在的主要问题」 → 1、… 9、…)."""
        children: dict[tuple[str, str], list[Chunk]] = {}
        seen: set[str] = set()
        for chunk in self.index.chunks:
            parent, _, last = chunk.section.rpartition(PATH_SEPARATOR)
            if parent and heading_number(last) is not None and chunk.section not in seen:
                seen.add(chunk.section)
                children.setdefault((chunk.source, parent), []).append(chunk)
        return children

    def _subsections(self, chunk: Chunk) -> list[str]:
        """The headings of the numbered sub-sections of `chunk`'s section (an answer to
        「存在哪些主要问题」 lists them)."""
        items = self._children.get((chunk.source, chunk.section), [])
        return [c.section.rpartition(PATH_SEPARATOR)[2] for c in items]

    @cached_property
    def _intros(self) -> dict[tuple[str, str], Chunk]:
        """(source, section path) → the first chunk of the section's own text."""
        intros: dict[tuple[str, str], Chunk] = {}
        for chunk in self.index.chunks:
            intros.setdefault((chunk.source, chunk.section), chunk)
        return intros

    def _named_section(self, query: str) -> Chunk | None:
        """For a list question, the opening of the section whose title names what it asks for
        and which has numbered sub-sections (「浙江产业集群有哪些特点」 → 「2、产业集群的特点」)."""
        if not LISTING.search(query):
            return None
        asked = analyse(query, self.index)
        named = [
            (title_coverage(asked, key[1].rpartition(PATH_SEPARATOR)[2]), self._intros[key].order, self._intros[key])
            for key, items in self._children.items()
            if len(items) >= 2 and key in self._intros
        ]
        coverage, _, intro = max(named, key=lambda row: (row[0], -row[1]), default=(0.0, 0, None))
        return intro if coverage >= NAMED_SECTION_LEADS else None

    def _numbered_item(self, query: str, ranked: list[Chunk]) -> Chunk | None:
        """The sub-section 「第三条」 points to, under the sections of the best passages."""
        n = asked_item(query)
        if n is None or (ranked and item_mark(n).search(ranked[0].text)):
            return None  # (the best passage lists the item itself: 「一是…二是…」)
        for chunk in ranked[:3]:
            path = chunk.section.split(PATH_SEPARATOR)
            for depth in range(len(path), 0, -1):
                items = self._children.get((chunk.source, PATH_SEPARATOR.join(path[:depth])), [])
                item = next((c for c in items if heading_number(c.section.rpartition(PATH_SEPARATOR)[2]) == n), None)
                if item is not None:
                    return item
        return None

    def search(self, query: str) -> tuple[list[tuple[Chunk, float, float, float]], DenseHits]:
        """(chunk, fused, bm25, vector) in rank order, and what the vector side found."""
        bm25 = self._bm25(query) if self.bm25_weight > 0 else np.zeros(len(self.index.chunks))
        dense = self._vectors(query)
        vectors = dense.chunks
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
        item = self._numbered_item(query, [row[0] for row in scored]) or self._named_section(query)
        if item is not None:  # the outline item or section asked for leads, whatever its words
            top = scored[0][1] if scored else 1.0
            scored = [(item, top, 0.0, 0.0)] + [row for row in scored if row[0] is not item]
        return scored[: self.k], dense

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        ranked, dense = self.search(query)
        return [
            Document(
                page_content=chunk.text,
                metadata={**chunk.metadata(), "score": fused, "bm25": bm25, "vector": vector,
                          "subsections": self._subsections(chunk), "sentences": dense.sentences.get(chunk.chunk_id, {}),
                          ON_TOPIC: dense.on_topic, WORDING: dense.wording,
                          PRECEDENTS: dense.precedents.get(chunk.chunk_id, {}),
                          NEAR_ANSWERABLE: dense.near_answerable, NEAR_UNANSWERABLE: dense.near_unanswerable},
            )
            for chunk, fused, bm25, vector in ranked
        ]
