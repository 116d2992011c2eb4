"""Score the assistant against an evaluation set and summarise the run.

Scoring (strings compared after NFKC and whitespace removal):
- an answerable item is correct when the response is answerable and contains every
  `must_include` string; its citation is correct when a cited passage contains an
  `evidence` string; hit@k when an evidence string is in the top-k retrieved passages;
- an unanswerable item is correct when the response declines.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Callable, Iterable, Iterator

from pydantic import BaseModel, Field, ValidationError

from assistant.answer_models import Answer
from assistant.errors import UserError
from assistant.ingest.normalize import compact


class EvalItem(BaseModel):
    id: str
    question: str = Field(min_length=1)
    answerable: bool
    must_include: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    reference_answer: str | None = None
    category: str | None = None
    history: list[tuple[str, str]] = Field(default_factory=list)


class ItemResult(BaseModel):
    id: str
    category: str | None
    question: str
    history: list[tuple[str, str]] = Field(default_factory=list)
    expected_answerable: bool
    reference_answer: str | None
    answer: str
    answerable: bool
    correct: bool
    missing: list[str]
    citation_correct: bool | None
    evidence_rank: int | None  # 1-based rank of the first retrieved passage holding evidence
    citations: list[dict]
    retrieved: list[dict]
    latency_ms: float


class Metrics(BaseModel):
    n: int
    answer_accuracy: float
    citation_accuracy: float
    hit_at_1: float
    hit_at_5: float
    mrr: float
    refusal_accuracy: float
    latency_ms: dict[str, float]
    answer_chars: dict[str, float]


class EvalRun(BaseModel):
    metrics: Metrics
    items: list[ItemResult]


class LoadReport(BaseModel):
    items: list[EvalItem]
    errors: list[str]  # "line N: field: problem", one per bad row
    lines: list[int] = Field(default_factory=list)  # each item's line in the file


def load_jsonl(path: Path, shown_as: str | None = None) -> LoadReport:
    found: list[tuple[int, EvalItem]] = []
    errors: list[str] = []
    for number, line in enumerate(_read_text(path, shown_as).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append((number, EvalItem.model_validate_json(line)))
        except ValidationError as exc:
            errors.extend(_describe(number, exc))
    return _report(found, errors)


def _report(found: list[tuple[int, EvalItem]], errors: list[str]) -> LoadReport:
    """Every validated row, with its line number; `runnable` decides which of them can run."""
    return LoadReport(items=[item for _, item in found], errors=errors, lines=[line for line, _ in found])


def runnable(report: LoadReport, max_question_chars: int | None) -> LoadReport:
    """The rows that can run: a question with no words or longer than the assistant takes, or an
    id used before, is skipped with its line number (clicking a row must open that row, not the
    first with its id), and the rest run."""
    items, errors, first_line = [], list(report.errors), {}
    for line, item in zip(report.lines, report.items):
        if not any(ch.isalnum() for ch in item.question):
            errors.append(f"line {line}: question: has no words in it")
        elif max_question_chars and len(item.question) > max_question_chars:
            errors.append(f"line {line}: question: too long ({len(item.question)} characters; the limit is {max_question_chars})")
        elif item.id in first_line:
            errors.append(f"line {line}: id: '{item.id}' is already used on line {first_line[item.id]}")
        else:
            first_line[item.id] = line
            items.append(item)
    return LoadReport(items=items, errors=errors, lines=[first_line[i.id] for i in items])


def _describe(line: int, exc: ValidationError) -> list[str]:
    return [
        f"line {line}: {'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()
    ]


LIST_FIELDS = ("must_include", "evidence")


def _read_text(path: Path, shown_as: str | None = None) -> str:
    """UTF-8 (with or without BOM); else GB18030, which is how Excel on Chinese Windows saves CSV.
    `shown_as` names the file in the message (an upload by its own name, not a server path)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise UserError(f"{shown_as or path} is neither UTF-8 nor GB18030 text") from None


def _csv_row(row: dict) -> dict:
    """Cells → EvalItem fields: empty cells are absent, lists split on `|`, history is JSON."""
    fields: dict = {}
    for key, cell in row.items():
        if key is None or cell is None or not cell.strip():
            continue
        key = key.strip()
        if key in LIST_FIELDS:
            fields[key] = [part.strip() for part in cell.split("|") if part.strip()]
        elif key == "history":
            try:
                fields[key] = json.loads(cell)
            except ValueError:
                fields[key] = cell  # left for validation to reject with the field name
        else:
            fields[key] = cell.strip()
    return fields


def load_csv(path: Path, shown_as: str | None = None) -> LoadReport:
    """Same columns as the JSONL set; `must_include`/`evidence` split on `|`; `history` as JSON
    (`[["问", "答"], ...]`). Line numbers are those of the file, the header being line 1."""
    found: list[tuple[int, EvalItem]] = []
    errors: list[str] = []
    reader = csv.DictReader(io.StringIO(_read_text(path, shown_as), newline=""))
    try:
        if reader.fieldnames is None:  # reads the header
            return LoadReport(items=[], errors=["line 1: row: the file is empty"])
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if None in row:
                errors.append(f"line {line}: row: more cells than the header has columns")
                continue
            fields = _csv_row(row)
            if not fields:
                continue
            try:
                found.append((line, EvalItem.model_validate(fields)))
            except ValidationError as exc:
                errors.extend(_describe(line, exc))
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: row: {exc}; the rest of the file was not read")
    return _report(found, errors)


LOADERS: dict[str, Callable[[Path, str | None], LoadReport]] = {".jsonl": load_jsonl, ".csv": load_csv}


def load_eval_set(path: Path, max_question_chars: int | None = None, shown_as: str | None = None) -> LoadReport:
    """The set's runnable items and the rows skipped; `shown_as` names the file in messages
    (the 评测 tab's uploads live in Gradio's temporary folder, whose path is not for users)."""
    shown = shown_as or path
    if not path.is_file():
        raise UserError(f"evaluation set not found: {shown}")
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise UserError(f"unsupported evaluation set format '{path.suffix}' (use {', '.join(LOADERS)})")
    report = runnable(loader(path, shown_as), max_question_chars)
    if not report.items:
        raise UserError(f"no valid items in {shown}" + (f": {report.errors[0]}" if report.errors else ""))
    return report


def _contains(texts: Iterable[str], needles: list[str]) -> bool:
    flat = [compact(t) for t in texts]
    return any(compact(n) in t for n in needles for t in flat)


def score_item(item: EvalItem, answer: Answer) -> ItemResult:
    flat_answer = compact(answer.answer)
    missing = [m for m in item.must_include if compact(m) not in flat_answer]
    if item.answerable:
        correct = answer.answerable and not missing
        citation_correct = _contains((c.text for c in answer.citations), item.evidence) if item.evidence else None
    else:
        correct = not answer.answerable
        citation_correct = None
    rank = None
    for i, passage in enumerate(answer.retrieved, start=1):
        if item.evidence and _contains([passage.text], item.evidence):
            rank = i
            break
    return ItemResult(
        id=item.id,
        category=item.category,
        question=item.question,
        history=item.history,
        expected_answerable=item.answerable,
        reference_answer=item.reference_answer,
        answer=answer.answer,
        answerable=answer.answerable,
        correct=correct,
        missing=missing if item.answerable else [],
        citation_correct=citation_correct,
        evidence_rank=rank,
        citations=[c.model_dump() for c in answer.citations],
        retrieved=[p.model_dump() for p in answer.retrieved],
        latency_ms=answer.timings_ms.get("total", 0.0),
    )


UNCATEGORISED = "（未分类）"


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 2)


class Tally:
    """A run's metrics kept up to date item by item, so a run of any size holds counters and two
    numbers per item (latency, answer length), never the items themselves."""

    def __init__(self) -> None:
        self.n = self.failures = 0
        self.answerable = self.answered_right = 0
        self.with_evidence = self.cited_right = self.hit_1 = self.hit_5 = 0
        self.reciprocal_ranks = 0.0
        self.unanswerable = self.declined_right = 0
        self.latencies: list[float] = []
        self.lengths: list[int] = []
        self.categories: dict[str, list[int]] = {}  # name → [items, correct]

    def add(self, r: ItemResult) -> None:
        self.n += 1
        self.failures += not r.correct
        if r.expected_answerable:
            self.answerable += 1
            self.answered_right += r.correct
            if r.citation_correct is not None:
                self.with_evidence += 1
                self.cited_right += r.citation_correct
                self.hit_1 += r.evidence_rank == 1
                self.hit_5 += r.evidence_rank is not None and r.evidence_rank <= 5
                self.reciprocal_ranks += 1 / r.evidence_rank if r.evidence_rank else 0.0
        else:
            self.unanswerable += 1
            self.declined_right += r.correct
        self.latencies.append(r.latency_ms)
        if r.answerable:
            self.lengths.append(len(r.answer))
        counts = self.categories.setdefault(r.category or UNCATEGORISED, [0, 0])
        counts[0] += 1
        counts[1] += r.correct

    def metrics(self) -> Metrics:
        return Metrics(
            n=self.n,
            answer_accuracy=_share(self.answered_right, self.answerable),
            citation_accuracy=_share(self.cited_right, self.with_evidence),
            hit_at_1=_share(self.hit_1, self.with_evidence),
            hit_at_5=_share(self.hit_5, self.with_evidence),
            mrr=round(self.reciprocal_ranks / self.with_evidence, 4) if self.with_evidence else 0.0,
            refusal_accuracy=_share(self.declined_right, self.unanswerable),
            latency_ms={"p50": _percentile(self.latencies, 0.5), "p95": _percentile(self.latencies, 0.95)},
            answer_chars={
                "median": float(statistics.median(self.lengths)) if self.lengths else 0.0,
                "max": float(max(self.lengths, default=0)),
            },
        )

    def by_category(self) -> dict[str, dict]:
        """Accuracy per category (unanswerable items count as correct when declined)."""
        return {
            name: {"n": n, "correct": correct, "accuracy": round(correct / n, 4)}
            for name, (n, correct) in sorted(self.categories.items())
        }


def summarise(results: Iterable[ItemResult]) -> Metrics:
    tally = Tally()
    for r in results:
        tally.add(r)
    return tally.metrics()


def score_items(
    ask: Callable[..., Answer], items: list[EvalItem], progress: Callable[[int, int], None] | None = None
) -> Iterator[tuple[EvalItem, ItemResult]]:
    """Ask and score the items one at a time, yielding each as it is done, so a caller can store
    it and let it go (`keep.RunWriter`) instead of holding a whole run."""
    for i, item in enumerate(items):
        if progress:
            progress(i, len(items))
        yield item, score_item(item, ask(item.question, history=item.history))
    if progress:
        progress(len(items), len(items))


def run_eval(ask: Callable[..., Answer], items: list[EvalItem], progress: Callable[[int, int], None] | None = None) -> EvalRun:
    """The whole run in memory: for the benchmarks' sets; kept runs stream through `keep.RunWriter`."""
    results = [result for _, result in score_items(ask, items, progress)]
    return EvalRun(metrics=summarise(results), items=results)
