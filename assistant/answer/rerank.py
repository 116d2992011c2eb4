"""Optional cross-encoder reranking (e.g. BAAI/bge-reranker-base) from a local model folder.

Off unless `reranker_model` is set; like the embeddings it loads local files only. It
reorders the fused candidates by the cross-encoder's relevance to the question.
"""

from __future__ import annotations

from assistant.errors import UserError
from assistant.index.embeddings import local_model_available
from assistant.ingest.chunk import Chunk

Scored = tuple[Chunk, float, float, float]


class Reranker:
    def __init__(self, model_name_or_path: str, top: int = 20) -> None:
        if not local_model_available(model_name_or_path):
            raise UserError(f"reranker model '{model_name_or_path}' is not on this machine; set ASSISTANT_RERANKER_MODEL to a local folder")
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(model_name_or_path, device="cpu", local_files_only=True)
        self.top = top

    def rerank(self, query: str, scored: list[Scored]) -> list[Scored]:
        head, tail = scored[: self.top], scored[self.top :]
        if not head:
            return scored
        relevance = self.model.predict([(query, chunk.heading_text) for chunk, *_ in head])
        order = sorted(range(len(head)), key=lambda i: -float(relevance[i]))
        return [head[i] for i in order] + tail
