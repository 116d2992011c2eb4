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
from assistant.normalize import normalize_query, strip_invisible
from assistant.rerank import Reranker
from assistant.retrieve import HybridRetriever
from assistant.settings import Settings


MAX_HISTORY_TURNS = 10


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def validate_question(question: object, max_chars: int) -> str:
    """The question as it will be answered, or a UserError that says what is wrong with it.

    Length is checked first, so a pasted 20,000-character text is turned away at no cost; the
    question that comes back has no control characters, so every edge can print and serialise it.
    """
    if not isinstance(question, str):
        raise UserError("question must be text")
    if len(question) > max_chars:
        raise UserError(f"question is too long ({len(question)} characters; the limit is {max_chars})")
    text = strip_invisible(question).strip()
    if not text:
        raise UserError("question is empty")
    if not any(ch.isalnum() for ch in text):
        raise UserError("question has no words in it, only punctuation or symbols")
    return text


def validate_history(history: object, max_chars: int) -> list[tuple[str, str]]:
    """Earlier turns as (question, answer) text; only the last few can shape a follow-up, so a
    huge history costs nothing."""
    if history is None or (isinstance(history, (list, tuple)) and not history):
        return []
    if not isinstance(history, (list, tuple)) or not all(
        isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(x, str) for x in turn)
        for turn in history
    ):
        raise UserError('history must be a list of ["question", "answer"] pairs of text')
    return [(strip_invisible(q)[:max_chars], strip_invisible(a)) for q, a in history[-MAX_HISTORY_TURNS:]]


class Assistant:
    def __init__(self, settings: Settings, index: LoadedIndex | None = None) -> None:
        self.settings = settings
        self.index = index or LoadedIndex.open(settings)
        self.retriever = HybridRetriever(
            index=self.index,
            k=settings.retrieve_k,
            bm25_weight=settings.bm25_weight,
            reranker=Reranker(settings.reranker_model) if settings.reranker_model else None,
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
        query = analyse(inputs["standalone"], self.index)
        answer = self.answerer.answer(inputs["question"], query, inputs["documents"])
        answer.standalone_question = inputs["standalone"]
        inputs["timings"]["answer"] = _ms(started)
        return answer

    def validate(self, question: object) -> str:
        return validate_question(question, self.settings.max_question_chars)

    def ask(self, question: str, history: History | None = None) -> Answer:
        started = time.perf_counter()
        question = self.validate(question)
        timings: dict[str, float] = {}
        turns = validate_history(history, self.settings.max_question_chars)
        answer = self.chain.invoke({"question": question, "history": turns, "timings": timings})
        answer.timings_ms = {**timings, "total": _ms(started)}
        return answer
