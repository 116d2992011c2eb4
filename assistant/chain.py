"""`Assistant`: the one Python API every edge calls (CLI, UI, HTTP API, evaluation).

The answer is a LangChain runnable chain: normalise → condense (follow-ups) → retrieve →
answer. The index is opened once per Assistant and shared by every question.
"""

from __future__ import annotations

import time

from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from assistant.answer import ExtractiveAnswerer, analyse
from assistant.answer_models import Answer
from assistant.conversation import History, condense
from assistant.errors import UserError
from assistant.index import LoadedIndex
from assistant.normalize import normalize_query
from assistant.retrieve import HybridRetriever
from assistant.settings import Settings


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class Assistant:
    def __init__(self, settings: Settings, index: LoadedIndex | None = None) -> None:
        self.settings = settings
        self.index = index or LoadedIndex.open(settings)
        self.retriever = HybridRetriever(
            index=self.index, k=settings.retrieve_k, bm25_weight=settings.bm25_weight
        )
        self.answerer = ExtractiveAnswerer()
        self.chain = (
            RunnablePassthrough.assign(standalone=RunnableLambda(self._standalone))
            | RunnablePassthrough.assign(documents=RunnableLambda(self._retrieve))
            | RunnableLambda(self._answer)
        )

    @property
    def mode(self) -> str:
        return "extractive"

    def _standalone(self, inputs: dict) -> str:
        return condense(normalize_query(inputs["question"]), inputs["history"], self.index.tokenizer)

    def _retrieve(self, inputs: dict):
        started = time.perf_counter()
        documents = self.retriever.invoke(inputs["standalone"])
        inputs["timings"]["retrieve"] = _ms(started)
        return documents

    def _answer(self, inputs: dict) -> Answer:
        started = time.perf_counter()
        query = analyse(inputs["standalone"], self.index.tokenizer, self.index.lexical)
        answer = self.answerer.answer(inputs["question"], query, inputs["documents"])
        answer.standalone_question = inputs["standalone"]
        inputs["timings"]["answer"] = _ms(started)
        return answer

    def validate(self, question: object) -> str:
        if not isinstance(question, str) or not question.strip():
            raise UserError("question is empty")
        if len(question) > self.settings.max_question_chars:
            raise UserError(
                f"question is too long ({len(question)} characters; the limit is {self.settings.max_question_chars})"
            )
        return question.strip()

    def ask(self, question: str, history: History | None = None) -> Answer:
        started = time.perf_counter()
        question = self.validate(question)
        timings: dict[str, float] = {}
        answer = self.chain.invoke({"question": question, "history": history or [], "timings": timings})
        answer.timings_ms = {**timings, "total": _ms(started)}
        return answer
