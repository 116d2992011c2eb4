"""`Assistant`: the one Python API every edge calls (CLI, UI, HTTP API, evaluation).

The answer is a LangChain runnable chain: normalise → condense (follow-ups) → retrieve →
answer. The index is opened once per Assistant and shared by every question. With an LLM
endpoint configured the model condenses and writes the answer (`assistant.answer.llm`); the chain
streams its text deltas and ends with the checked `Answer`.

What a question is answered with (the index with its trained model, the retriever and the
answerer over them) is one `Engine`, taken whole when the question starts: a retrain in a
serving process (`use_model`) swaps the engine, and a question in flight ends with the one it
started on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from assistant.answer.conversation import History, condense
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.llm import LLMAnswerer, LLMError, build_chat_model
from assistant.answer.query import analyse
from assistant.answer.rerank import Reranker
from assistant.answer.retrieve import HybridRetriever
from assistant.answer_models import Answer
from assistant.errors import UserError
from assistant.index.loaded import LoadedIndex
from assistant.ingest.chunk import PATH_SEPARATOR
from assistant.ingest.normalize import normalize_query, strip_invisible
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


def corpus_scope(index: LoadedIndex, most: int = 6) -> str:
    """What a decline says the assistant covers: the documents' titles and top-level sections."""
    titles = "、".join(f"《{t}》" for t in dict.fromkeys(c.title for c in index.chunks))
    tops = list(dict.fromkeys(c.section.split(PATH_SEPARATOR)[0] for c in index.chunks if c.section))
    listed = "；".join(tops[:most]) + ("等" if len(tops) > most else "")
    return f"{titles}里的内容" + (f"，它讲的是：{listed}。" if listed else "。")


@dataclass(frozen=True)
class Engine:
    """The index (with its trained model) and the retriever and answerer over it."""

    index: LoadedIndex
    retriever: HybridRetriever
    answerer: ExtractiveAnswerer

    @property
    def model_meta(self) -> dict | None:
        """What the trained model records (training hash, date, items); None for the rules."""
        return self.index.model.meta if self.index.model is not None else None


class Assistant:
    def __init__(
        self, settings: Settings, index: LoadedIndex | None = None, chat_model: BaseChatModel | None = None
    ) -> None:
        self.settings = settings
        index = index or LoadedIndex.open(settings)
        index.tokenizer.prepare()  # what every question needs is made before the first one
        reranker = Reranker(settings.reranker_model) if settings.reranker_model else None
        self.engine = self._engine(index, reranker)
        # generated answers when an endpoint is configured (or a chat model is handed in)
        if chat_model is None and settings.llm_enabled:
            chat_model = build_chat_model(settings)
        self.generator = LLMAnswerer(chat_model, settings) if chat_model is not None else None
        self.chain = (
            RunnablePassthrough.assign(standalone=RunnableLambda(self._standalone))
            | RunnablePassthrough.assign(documents=RunnableLambda(self._retrieve))
            | RunnableLambda(self._answer)
        )

    def _engine(self, index: LoadedIndex, reranker: Reranker | None) -> Engine:
        retriever = HybridRetriever(
            index=index, k=self.settings.retrieve_k, bm25_weight=self.settings.bm25_weight, reranker=reranker,
        )
        return Engine(index, retriever, ExtractiveAnswerer(model=index.model, scope=corpus_scope(index)))

    def use_model(self, model) -> None:
        """Answer from now on with `model` (a retrain's): the next question starts on it. The
        reranker, which the retrain did not touch, is kept, not loaded again."""
        self.engine = self._engine(replace(self.engine.index, model=model), self.engine.retriever.reranker)

    @property
    def index(self) -> LoadedIndex:
        return self.engine.index

    @property
    def retriever(self) -> HybridRetriever:
        return self.engine.retriever

    @property
    def answerer(self) -> ExtractiveAnswerer:
        return self.engine.answerer

    @property
    def mode(self) -> str:
        return "llm" if self.generator else "extractive"

    def _standalone(self, inputs: dict) -> str:
        question = normalize_query(inputs["question"])
        if self.generator and inputs["history"]:
            started = time.perf_counter()
            try:
                return normalize_query(self.generator.condense(question, inputs["history"], inputs["budget"]))
            except LLMError as exc:
                inputs["warnings"].append(f"语言模型改写追问失败（{exc}），已改用规则改写。")
            finally:
                inputs["timings"]["condense"] = _ms(started)
        return condense(question, inputs["history"], inputs["engine"].index.tokenizer)

    def _retrieve(self, inputs: dict):
        started = time.perf_counter()
        documents = inputs["engine"].retriever.invoke(inputs["standalone"])
        inputs["timings"]["retrieve"] = _ms(started)
        return documents

    def _answer(self, inputs: dict) -> Iterator[str | Answer]:
        """Text deltas, then the final Answer; extractive mode sends its answer as one delta."""
        started = time.perf_counter()
        engine = inputs["engine"]
        query = analyse(inputs["standalone"], engine.index)

        def extractive() -> Answer:
            return engine.answerer.answer(inputs["question"], query, inputs["documents"])

        if self.generator is None:
            answer = extractive()
            yield answer.answer
        else:
            for event in self.generator.stream(
                inputs["question"], inputs["standalone"], inputs["documents"], inputs["budget"], extractive
            ):
                if isinstance(event, Answer):
                    answer = event
                else:
                    yield event
        answer.standalone_question = inputs["standalone"]
        answer.warnings = [*inputs["warnings"], *answer.warnings]
        inputs["timings"]["answer"] = _ms(started)
        yield answer

    def validate(self, question: object) -> str:
        return validate_question(question, self.settings.max_question_chars)

    def stream(self, question: str, history: History | None = None, engine: Engine | None = None) -> Iterator[str | Answer]:
        """Text deltas (str) as they are written, then the final `Answer`, which supersedes them.
        `engine` pins what answers (an evaluation run keeps one model throughout); by default
        the current one, taken when the question starts.

        Bad input raises UserError here, before anything is streamed.
        """
        return self._events(
            self.validate(question), validate_history(history, self.settings.max_question_chars), engine or self.engine
        )

    def _events(self, question: str, history: History, engine: Engine) -> Iterator[str | Answer]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        budget = self.generator.budget() if self.generator else None
        inputs = {"question": question, "history": history, "timings": timings, "warnings": [], "budget": budget,
                  "engine": engine}
        for event in self.chain.stream(inputs):
            if isinstance(event, Answer):
                event.timings_ms = {**timings, "total": _ms(started)}
            yield event

    def ask(self, question: str, history: History | None = None, engine: Engine | None = None) -> Answer:
        *_, answer = self.stream(question, history, engine)
        return answer
