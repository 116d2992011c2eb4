"""Growing the training data: a failed evaluation item made into a training item, which sentences
no training question covers yet, and draft training questions a chat model writes for them.

A failed item becomes a training item with its question (the trainer may reword it) and one
evidence sentence picked from the passages the assistant retrieved for it, cut as the index cuts
its quotable units, so training finds exactly that unit. Drafts a model writes
(`assistant tune --generate`) wait in the data folder until the trainer accepts them into a
training set or discards them in the 评测 tab; nothing trains on them before.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from assistant.errors import UserError
from assistant.evaluation import eval_drafts, sets
from assistant.evaluation.evaluate import EvalItem, load_eval_set, load_jsonl
from assistant.evaluation.runs import RunItem
from assistant.files import atomic_write
from assistant.index.sentence_index import Unit
from assistant.ingest.normalize import compact
from assistant.ingest.sentences import clause_spans
from assistant.learn.tune import evidence_units
from assistant.settings import Settings

# below the data folder's top level, where the held-out drafts are: these are no held-out items
DRAFTS = Path("generated") / "drafts.jsonl"
GENERATED = "generated"  # the category of a drafted question
PER_SENTENCE = 3

GENERATE_SYSTEM = """你在省政府机关工作，正在为一份调研报告的问答助手准备训练题。
下面给你报告里的一句原文。请写出 {n} 个问题：领导或机关干部平时打电话、开会时会随口这么问，而这句原文正好能回答。
要求：口语化，问法彼此不同，不要照抄原句的说法；只问这句原文里有答案的内容；只写问题，每行一个，不要编号，不要答案。"""
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}\s*[.、)）:：]|[（(]\d{1,2}[)）])\s*")


def _id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:10]


def evidence_choices(item: RunItem) -> list[str]:
    """The sentences of the passages retrieved for `item`, in retrieval order, each once."""
    seen: dict[str, None] = {}
    for passage in item.retrieved:
        text = passage["text"]
        for start, end in clause_spans(text):
            seen.setdefault(text[start:end].strip(), None)
    return list(seen)


def expected_choice(item: RunItem, choices: list[str]) -> str | None:
    """The first choice the item's own evidence points to (what the set says answers it)."""
    hit = evidence_units(item.evidence, [compact(c) for c in choices])
    return choices[hit[0]] if hit else None


def from_scored(item: RunItem, question: str, evidence: str | None, max_chars: int) -> EvalItem:
    """A training item asking `question` (in the scored item's conversation) answered by the
    `evidence` sentence, or, for an item the report cannot answer, declined."""
    question = (question or "").strip()
    if not any(ch.isalnum() for ch in question):
        raise UserError("问题不能为空")
    if len(question) > max_chars:
        raise UserError(f"问题太长（{len(question)} 字，最多 {max_chars} 字）")
    if item.expected_answerable and not evidence:
        raise UserError("先在下面选出回答这个问题的原文句子")
    evidence_list = [evidence] if item.expected_answerable else []
    return EvalItem(
        id=f"tr-{_id(question, *evidence_list)}", question=question, answerable=item.expected_answerable,
        evidence=evidence_list, history=item.history, category=item.category,
    )


# --------------------------------------------------------------------- coverage


@dataclass
class Coverage:
    sentences: int  # every unit the answerer may quote
    uncovered: list[Unit]  # those no training question's evidence points to


def coverage(settings: Settings, units: list[Unit]) -> Coverage:
    """Which quotable sentences have no training question yet (a new document's, at first)."""
    flat = [compact(u.text) for u in units]
    covered: set[int] = set()
    for path in sets.training_files(settings):
        for item in load_eval_set(path).items:
            if item.answerable:
                covered.update(evidence_units(item.evidence, flat))
    return Coverage(len(units), [u for j, u in enumerate(units) if j not in covered])


# --------------------------------------------------------------------- drafts written by a model


def drafts_file(settings: Settings) -> Path:
    return settings.data_dir / DRAFTS


def pending(settings: Settings) -> list[EvalItem]:
    path = drafts_file(settings)
    return load_jsonl(path).items if path.is_file() else []


def parse_questions(text: str, n: int, max_chars: int) -> list[str]:
    """The model's reply as at most `n` distinct questions: one a line, bullets and numbers dropped."""
    found: dict[str, None] = {}
    for line in text.splitlines():
        question = _BULLET.sub("", line).strip().strip("\"“”「」")
        if question and len(question) <= max_chars and any("\u4e00" <= ch <= "\u9fff" for ch in question):
            found.setdefault(question, None)
    return list(found)[:n]


@dataclass
class Generated:
    sentences: int  # sentences asked about
    questions: int  # drafts written
    path: Path


def generate(settings: Settings, units: list[Unit], chat_model, per_sentence: int = PER_SENTENCE,
             progress: Callable[[str, int, int], None] | None = None) -> Generated:
    """Draft `per_sentence` training questions for every sentence with neither a training question
    nor drafts yet, each draft with its sentence as evidence; written sentence by sentence, so a
    failing endpoint keeps what was drafted before it failed."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from assistant.answer.llm import describe_failure

    drafted = {item.evidence[0] for item in pending(settings) if item.evidence}
    todo = [u for u in coverage(settings, units).uncovered if u.text not in drafted]
    tell = progress or (lambda *_: None)
    system = SystemMessage(GENERATE_SYSTEM.format(n=per_sentence))
    written = 0
    for done, unit in enumerate(todo):
        tell("生成训练题", done, len(todo))
        try:
            reply = chat_model.invoke([system, HumanMessage(f"章节：{unit.section}\n原文：{unit.text}")])
        except Exception as exc:  # whatever the client raises for a failed call, said in one line
            raise UserError(f"语言模型调用失败（{describe_failure(exc)}），已为 {done} 句写了 {written} 道草稿题，在 {drafts_file(settings)}") from None
        questions = parse_questions(str(reply.content), per_sentence, settings.max_question_chars)
        items = [EvalItem(id=f"gen-{_id(unit.text, q)}", question=q, answerable=True, evidence=[unit.text],
                          category=GENERATED) for q in questions]
        eval_drafts.append_lines(drafts_file(settings), [i.model_dump_json(exclude_defaults=True) for i in items])
        written += len(items)
    tell("生成训练题", len(todo), len(todo))
    return Generated(len(todo), written, drafts_file(settings))


def _remove_drafts(settings: Settings, drafts: list[EvalItem], ids: set[str]) -> int:
    """`drafts` (the file as just read) without `ids`, written back; how many were removed."""
    kept = [item for item in drafts if item.id not in ids]
    atomic_write(drafts_file(settings), "".join(item.model_dump_json(exclude_defaults=True) + "\n" for item in kept))
    return len(drafts) - len(kept)


def accept(settings: Settings, ids: list[str], confirmed: bool = False) -> Path:
    """The chosen drafts appended to the tab's training set, and taken off the drafts."""
    drafts = pending(settings)
    chosen = [item for item in drafts if item.id in set(ids)]
    if not chosen:
        raise UserError("先勾选要加入训练集的草稿题")
    target = eval_drafts.append_items(settings, eval_drafts.default_target(settings, sets.TRAINING), chosen,
                                      sets.TRAINING, confirmed)
    _remove_drafts(settings, drafts, {item.id for item in chosen})
    return target


def discard(settings: Settings, ids: list[str]) -> int:
    if not ids:
        raise UserError("先勾选要丢弃的草稿题")
    return _remove_drafts(settings, pending(settings), set(ids))
