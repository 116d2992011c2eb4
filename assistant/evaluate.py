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
from typing import Callable, Iterable

from pydantic import BaseModel, Field, ValidationError

from assistant.answer_models import Answer
from assistant.errors import UserError
from assistant.normalize import compact


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


def load_jsonl(path: Path) -> LoadReport:
    found: list[tuple[int, EvalItem]] = []
    errors: list[str] = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
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


def _read_text(path: Path) -> str:
    """UTF-8 (with or without BOM); else GB18030, which is how Excel on Chinese Windows saves CSV."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise UserError(f"{path} is neither UTF-8 nor GB18030 text") from None


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


def load_csv(path: Path) -> LoadReport:
    """Same columns as the JSONL set; `must_include`/`evidence` split on `|`; `history` as JSON
    (`[["问", "答"], ...]`). Line numbers are those of the file, the header being line 1."""
    found: list[tuple[int, EvalItem]] = []
    errors: list[str] = []
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
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


LOADERS: dict[str, Callable[[Path], LoadReport]] = {".jsonl": load_jsonl, ".csv": load_csv}


def load_eval_set(path: Path, max_question_chars: int | None = None) -> LoadReport:
    if not path.is_file():
        raise UserError(f"evaluation set not found: {path}")
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise UserError(f"unsupported evaluation set format '{path.suffix}' (use {', '.join(LOADERS)})")
    report = runnable(loader(path), max_question_chars)
    if not report.items:
        raise UserError(f"no valid items in {path}" + (f": {report.errors[0]}" if report.errors else ""))
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


def _ratio(values: list[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 2)


def summarise(results: list[ItemResult]) -> Metrics:
    answerable = [r for r in results if r.expected_answerable]
    with_evidence = [r for r in answerable if r.citation_correct is not None]
    declined = [r for r in results if not r.expected_answerable]
    latencies = [r.latency_ms for r in results]
    lengths = [len(r.answer) for r in results if r.answerable]
    return Metrics(
        n=len(results),
        answer_accuracy=_ratio([r.correct for r in answerable]),
        citation_accuracy=_ratio([bool(r.citation_correct) for r in with_evidence]),
        hit_at_1=_ratio([r.evidence_rank == 1 for r in with_evidence]),
        hit_at_5=_ratio([r.evidence_rank is not None and r.evidence_rank <= 5 for r in with_evidence]),
        mrr=round(sum(1 / r.evidence_rank for r in with_evidence if r.evidence_rank) / len(with_evidence), 4)
        if with_evidence
        else 0.0,
        refusal_accuracy=_ratio([r.correct for r in declined]),
        latency_ms={"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95)},
        answer_chars={
            "median": float(statistics.median(lengths)) if lengths else 0.0,
            "max": float(max(lengths, default=0)),
        },
    )


def run_eval(ask: Callable[..., Answer], items: list[EvalItem], progress: Callable[[int, int], None] | None = None) -> EvalRun:
    results = []
    for i, item in enumerate(items):
        if progress:
            progress(i, len(items))
        results.append(score_item(item, ask(item.question, history=item.history)))
    if progress:
        progress(len(items), len(items))
    return EvalRun(metrics=summarise(results), items=results)


def dump_json(run: EvalRun) -> str:
    return json.dumps(run.model_dump(), ensure_ascii=False, indent=2)
