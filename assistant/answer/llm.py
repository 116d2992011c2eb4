"""Generated answers: a chat model writes the answer from the retrieved passages, then we check it.

The model only sees numbered passages (as many as fit the token budget) and must cite them as
[n]. Its text is never trusted as is: markers are mapped back to passages (renumbered in order
of use, dangling ones dropped), every number it writes must occur in a passage it cites, and a
fixed marker (`NOT_FOUND`) is how it says the passages hold no answer. Any endpoint failure —
refused connection, HTTP error, timeout — ends in the extractive answer with a notice, never a
hang: each question gets one wall-clock deadline shared by condensing and answering.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterator

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from assistant.answer.compose import passage
from assistant.answer.conversation import History
from assistant.answer_models import Answer, Citation
from assistant.ingest.chunk import count_tokens
from assistant.ingest.normalize import convert_numerals
from assistant.settings import Settings

NOT_FOUND = "【无答案】"
ANSWER_TOKENS = 512  # room kept for the generated answer inside llm_context_tokens
DECLINE = "报告中没有找到能回答这个问题的内容。"

SYSTEM = f"""你是《浙江省产业集群调研报告》的问答助手，只能依据用户给出的编号资料回答。
要求：
1. 用简体中文简短作答，一般不超过三句话，直接给出答案；数字、名称照抄资料原文，不要推算或改写数字。
2. 每句话后用方括号标出依据的资料编号，例如 [1] 或 [2][3]；只能引用给出的编号。
3. 不要使用资料以外的知识。如果资料中没有能回答问题的内容，回答以“{NOT_FOUND}”开头，再用一句话说明缺少什么，不要猜测。"""

CONDENSE = """你负责改写追问。根据对话历史，把用户的最新问题改写成一个不依赖上下文、意思完整的问题。
只输出改写后的问题本身，不要回答，不要解释。"""

# [1] [1,2] 【1】 ［１］; \d also matches full-width digits
_MARKER = re.compile(r"[\[【［]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】］]")
_PARTIAL_MARKER = re.compile(r"[\[【［][\d\s,，、]{0,12}$")
_NOT_FOUND = re.compile(r"[【\[［]\s*无答案\s*[】\]］]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")


class LLMError(Exception):
    """The endpoint is down, failed or too slow; the message is safe to show (no secrets)."""


def build_chat_model(settings: Settings) -> BaseChatModel:
    """The client for the configured endpoint: bounded connect and read times, no hidden retries."""
    import httpx

    timeout = httpx.Timeout(settings.llm_timeout_s, connect=settings.llm_connect_timeout_s)
    key = settings.llm_api_key
    if settings.llm_provider == "ollama":
        from langchain_ollama import ChatOllama

        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        return ChatOllama(
            model=settings.llm_model, base_url=settings.llm_base_url, temperature=0,
            num_ctx=settings.llm_context_tokens, num_predict=ANSWER_TOKENS,
            client_kwargs={"timeout": timeout, "headers": headers},
        )
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        model=settings.llm_model, base_url=settings.llm_base_url,
        # local servers (vLLM, llama.cpp, LM Studio) accept any key, but the client needs one
        api_key=key or SecretStr("not-needed"),
        timeout=timeout, max_retries=0, temperature=0, max_tokens=ANSWER_TOKENS,
    )


@dataclass
class Budget:
    """One question's wall-clock allowance for the model, shared by condensing and answering.

    The clock starts at the first model call (retrieval does not count against it); the first
    failure is remembered so a dead endpoint costs one wait per question, not one per call.
    """

    seconds: float
    deadline: float | None = None
    failure: str | None = None

    def remaining(self) -> float:
        if self.deadline is None:
            self.deadline = time.monotonic() + self.seconds
        return self.deadline - time.monotonic()


def describe_failure(exc: BaseException) -> str:
    """A short reason without the error text, which may echo request headers."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or "timeout" in name.lower():
        return "超时"
    if isinstance(exc, ConnectionError) or "connect" in name.lower():
        return "无法连接"
    return name


def _within(budget: Budget, produce: Callable[[], Iterator[str]]) -> Iterator[str]:
    """Run `produce` in a worker thread and stop waiting at the deadline, whatever the socket does."""
    pieces: queue.Queue = queue.Queue()
    abandoned = threading.Event()

    def work() -> None:
        try:
            for piece in produce():
                if abandoned.is_set():
                    return
                pieces.put(("text", piece))
            pieces.put(("end", None))
        except BaseException as exc:  # handed to the caller's thread
            pieces.put(("error", exc))

    threading.Thread(target=work, daemon=True, name="llm-call").start()
    try:
        while True:
            try:
                kind, value = pieces.get(timeout=max(budget.remaining(), 0.0))
            except queue.Empty:
                raise TimeoutError("deadline passed") from None
            if kind == "end":
                return
            if kind == "error":
                raise value
            if value:  # OpenAI streams open with an empty role-only chunk
                yield value
    finally:
        abandoned.set()


class CitationMapper:
    """Rewrites [n] markers as text streams in: renumbered by first use, dangling ones dropped.

    A marker split across chunks ("[", "1]") is held back until it is complete.
    """

    def __init__(self, passages: int) -> None:
        self.passages = passages
        self.used: list[int] = []  # 1-based passage numbers in order of first use
        self.dangling: list[int] = []
        self._pending = ""

    def feed(self, text: str) -> str:
        text = self._pending + text
        partial = _PARTIAL_MARKER.search(text)
        cut = partial.start() if partial else len(text)
        self._pending = text[cut:]
        return _MARKER.sub(self._renumber, text[:cut])

    def close(self) -> str:
        rest, self._pending = self._pending, ""
        return rest

    def _renumber(self, match: re.Match[str]) -> str:
        out: list[str] = []
        for raw in re.findall(r"\d+", match.group(1)):
            n = int(raw)
            if not 1 <= n <= self.passages:
                self.dangling.append(n)
                continue
            if n not in self.used:
                self.used.append(n)
            marker = f"[{self.used.index(n) + 1}]"
            if marker not in out:
                out.append(marker)
        return "".join(out)


def numbers_in(text: str) -> set[str]:
    """Numbers as digits: full-width and Chinese numerals normalised, thousands separators and
    trailing decimal zeros dropped, citation markers ignored."""
    text = _THOUSANDS.sub("", convert_numerals(unicodedata.normalize("NFKC", _MARKER.sub("", text))))
    found = set()
    for n in _NUMBER.findall(text):
        if "." in n:
            n = n.rstrip("0").rstrip(".")
        found.add(n.lstrip("0") or "0")
    return found


def fit_passages(question: str, documents: list[Document], context_tokens: int) -> list[Document]:
    """Passages in rank order while they fit the prompt budget; the first is cut to fit if need be."""
    budget = context_tokens - min(ANSWER_TOKENS, context_tokens // 4) - count_tokens(SYSTEM + question) - 32
    chosen: list[Document] = []
    for doc in documents:
        cost = count_tokens(_numbered(len(chosen) + 1, doc)) + 2  # + the blank line between blocks
        if cost <= budget:
            chosen.append(doc)
            budget -= cost
        elif not chosen and budget > 0:
            text = doc.page_content
            while text and count_tokens(_numbered(1, Document(text, metadata=doc.metadata))) > budget:
                text = text[: int(len(text) * 0.9)]
            if text:
                chosen.append(Document(text, metadata=doc.metadata))
                budget = 0
    return chosen


def _numbered(n: int, doc: Document) -> str:
    section = doc.metadata.get("section") or doc.metadata.get("title", "")
    return f"[{n}]（{section}）\n{doc.page_content}"


def answer_messages(question: str, passages: list[Document]) -> list[BaseMessage]:
    blocks = "\n\n".join(_numbered(n, doc) for n, doc in enumerate(passages, start=1))
    return [SystemMessage(SYSTEM), HumanMessage(f"资料：\n{blocks}\n\n问题：{question}")]


def condense_messages(question: str, history: History, turns: int = 3, answer_chars: int = 200) -> list[BaseMessage]:
    lines = [f"问：{q}\n答：{a[:answer_chars]}" for q, a in list(history)[-turns:]]
    return [SystemMessage(CONDENSE), HumanMessage("对话历史：\n" + "\n".join(lines) + f"\n\n最新问题：{question}")]


class LLMAnswerer:
    def __init__(self, model: BaseChatModel, settings: Settings) -> None:
        self.model = model
        self.settings = settings

    def budget(self) -> Budget:
        return Budget(self.settings.llm_timeout_s)

    def _generate(self, produce: Callable[[], Iterator[str]], budget: Budget) -> Iterator[str]:
        """Text pieces from the model; one retry when a call fails before producing anything."""
        if budget.failure:
            raise LLMError(budget.failure)
        for attempt in (1, 2):
            produced = False
            try:
                for piece in _within(budget, produce):
                    produced = True
                    yield piece
                return
            except Exception as exc:
                timed_out = isinstance(exc, TimeoutError) or budget.remaining() <= 0
                if produced or timed_out or attempt == 2:
                    budget.failure = "超时" if timed_out else describe_failure(exc)
                    raise LLMError(budget.failure) from None
                time.sleep(max(0.0, min(0.5, budget.remaining() / 2)))

    def condense(self, question: str, history: History, budget: Budget) -> str:
        """A standalone question rewritten by the model (a non-streamed call)."""
        messages = condense_messages(question, history)
        text = "".join(self._generate(lambda: iter([_text(self.model.invoke(messages))]), budget))
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        rewritten = re.sub(r"^(?:改写后的问题|问题)[:：]\s*", "", lines[0]).strip("“”\"' ") if lines else ""
        if not rewritten:
            raise LLMError("改写结果为空")
        return rewritten[: self.settings.max_question_chars]

    def stream(
        self, question: str, standalone: str, documents: list[Document], budget: Budget,
        extractive: Callable[[], Answer],
    ) -> Iterator[str | Answer]:
        """Text deltas (markers already renumbered), then the checked `Answer`.

        On failure the final Answer is the extractive one with a warning; deltas already sent
        are then superseded by it.
        """
        passages = fit_passages(standalone, documents, self.settings.llm_context_tokens)
        messages = answer_messages(standalone, passages)
        mapper = CitationMapper(len(passages))
        parts: list[str] = []
        try:
            for piece in self._generate(lambda: (_text(c) for c in self.model.stream(messages)), budget):
                if delta := mapper.feed(piece):
                    parts.append(delta)
                    yield delta
        except LLMError as exc:
            yield _fallback(extractive(), f"语言模型不可用（{exc}），已改用抽取式回答。")
            return
        if tail := mapper.close():
            parts.append(tail)
            yield tail
        yield self._checked(question, "".join(parts).strip(), passages, documents, mapper, extractive)

    def _checked(
        self, question: str, text: str, passages: list[Document], documents: list[Document],
        mapper: CitationMapper, extractive: Callable[[], Answer],
    ) -> Answer:
        retrieved = [passage(doc) for doc in documents]
        if not text:
            return _fallback(extractive(), "语言模型返回了空回答，已改用抽取式回答。")
        if _NOT_FOUND.search(text):
            reason = _NOT_FOUND.sub("", _MARKER.sub("", text)).strip(" ，,。：:\n")
            declined = DECLINE + (f"{reason}。" if reason else "")
            return Answer(question=question, answer=declined, answerable=False, retrieved=retrieved, mode="llm")
        warnings = []
        if mapper.dangling:
            shown = "、".join(f"[{n}]" for n in dict.fromkeys(mapper.dangling))
            warnings.append(f"回答引用了不存在的资料 {shown}，已删除。")
        citations = [
            Citation(n=i, **passage(passages[used - 1]).model_dump()) for i, used in enumerate(mapper.used, start=1)
        ]
        if not citations:
            warnings.append("回答没有标注引用的资料。")
        cited = set().union(*(numbers_in(c.text) for c in citations))
        missing = sorted(numbers_in(text) - cited, key=text.find)
        side = None
        if missing:
            warnings.append(f"回答中的数字 {'、'.join(missing)} 在所引用的资料中找不到，请以原文为准；附抽取式答案。")
            side = _MARKER.sub("", extractive().answer)  # its [n] would point at passages not cited here
        return Answer(
            question=question, answer=text, answerable=True, citations=citations, retrieved=retrieved,
            mode="llm", warnings=warnings, extractive_answer=side,
        )


def _text(message: BaseMessage) -> str:
    return message.text if isinstance(message, BaseMessage) else str(message)


def _fallback(answer: Answer, notice: str) -> Answer:
    answer.warnings.append(notice)
    return answer
