"""The naive LangChain RAG the project is compared with.

RecursiveCharacterTextSplitter (500 characters, 50 overlap) → Chroma with the same built-in
embedding (hashed character n-grams, fitted on its own chunks) → the top 4 chunks,
concatenated, returned as the answer, always "answerable". It returns the project's `Answer`
model so `assistant.evaluation.evaluate.score_item` scores both the same way. Benchmarks only: nothing in
the product imports this.
"""

from __future__ import annotations

import time
from pathlib import Path

from assistant.answer_models import Answer, Citation, Passage
from assistant.index.embeddings import HashingEmbeddings
from assistant.ingest.corpus import corpus_files, read_document

TOP_K = 4


class NaiveRag:
    def __init__(self, corpus_dir: Path, persist_dir: Path, dim: int = 2048) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
        documents = [read_document(corpus_dir, p) for p in corpus_files(corpus_dir)]
        chunks = splitter.create_documents(
            [d.text for d in documents], metadatas=[{"source": d.name} for d in documents]
        )
        for i, chunk in enumerate(chunks):
            chunk.metadata["chunk_id"] = f"naive-{i}"
        self.embeddings = HashingEmbeddings(dim=dim).fit([c.page_content for c in chunks])
        client = chromadb.PersistentClient(path=str(persist_dir), settings=ChromaSettings(anonymized_telemetry=False))
        self.store = Chroma(
            collection_name="naive-rag", embedding_function=self.embeddings, client=client,
            collection_metadata={"hnsw:space": "cosine"},
        )
        for start in range(0, len(chunks), 1000):
            self.store.add_documents(chunks[start : start + 1000], ids=[c.metadata["chunk_id"] for c in chunks[start : start + 1000]])
        self.chunks = len(chunks)

    def ask(self, question: str, history: list | None = None) -> Answer:
        started = time.perf_counter()
        found = self.store.similarity_search_with_relevance_scores(question, k=TOP_K)
        passages = [
            Passage(chunk_id=d.metadata["chunk_id"], source=d.metadata["source"], section="", text=d.page_content,
                    score=round(float(score), 4))
            for d, score in found
        ]
        return Answer(
            question=question,
            answer="\n\n".join(p.text for p in passages),
            answerable=True,
            citations=[Citation(n=i, **p.model_dump()) for i, p in enumerate(passages, start=1)],
            retrieved=passages,
            timings_ms={"total": round((time.perf_counter() - started) * 1000, 2)},
        )
