"""The run store: every evaluation run kept in `data_dir/eval_runs/<run id>/` so runs can be
listed, opened and compared later, whatever their size.

A run folder holds:
- `meta.json`: when, which set, index build, embedding, answer mode (what a listing reads);
- `run.json`: that, the metrics and the accuracy by category (small; it marks a run folder);
- `items.jsonl`: every scored item, one JSON line each, in the set's order;
- `rows.jsonl`: one short line per item (what the 评测 tab's table, filters and a comparison
  need) with the byte offset of its item in items.jsonl, so a page of the table, or one item,
  is read without reading the others;
- the files a trainer reads: `results.csv`, `metrics.json`, `report.html` (drawn by
  assistant.evaluation.report).

Runs are written by assistant.evaluation.keep (the store does not draw reports), and
`atomic_write` is assistant.files'.

File modes: every file and folder here is created with the process umask (0644/0755 under the
usual 022), like the index, the feedback store and the drafts. Runs hold the set's questions and
the report's passages, which the operator shares (report.html, results.csv); who may read the
data folder is the umask's and the folder's business, set once by the operator, not a few files'
(run files used to be 0600 beside a 0644 feedback database, which protected nothing).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from datetime import datetime
from pathlib import Path
from typing import Iterator

from pydantic import BaseModel, Field, ValidationError

from assistant.errors import UserError
from assistant.evaluation.evaluate import EvalItem, EvalRun, ItemResult, Metrics, Tally
from assistant.files import atomic_write
from assistant.settings import Settings

RUN_FILE = "run.json"
META_FILE = "meta.json"  # what a listing of runs needs, so listing never reads a run's items
ITEMS_FILE = "items.jsonl"
ROWS_FILE = "rows.jsonl"
RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")


class ModelStamp(BaseModel):
    """Which trained model answered a run: the hash of its training data, when it was trained,
    and on how many items."""

    training_hash: str
    trained_at: str
    items: int

    @classmethod
    def of(cls, model_meta: dict | None) -> "ModelStamp | None":
        return None if model_meta is None else cls.model_validate(model_meta)

    def describe(self) -> str:
        return f"训练数据 {self.training_hash[:12]} · {self.trained_at[:10]} 训练 · {self.items} 题"

    @staticmethod
    def line(stamp: "ModelStamp | None") -> str:
        """The model in words; without one, the hand-written rules answered."""
        return stamp.describe() if stamp else "未训练（规则作答）"


class RunMeta(BaseModel):
    id: str
    created_at: str
    eval_set: str
    mode: str
    index_build: str | None = None
    embedding: str | None = None
    skipped_rows: list[str] = Field(default_factory=list)
    role: str | None = None  # the set's (assistant.evaluation.sets), when the run started
    model: ModelStamp | None = None  # None: the hand-written rules answered, or not recorded
    model_recorded: bool = False  # runs kept before runs recorded their model did not say

    def describe_model(self, short: bool = False) -> str:
        if self.model and short:
            return f"模型 {self.model.training_hash[:8]}"
        return ModelStamp.line(self.model) if self.model or self.model_recorded else "未记录"


class RunSummary(BaseModel):
    """run.json: everything about a run but its items."""

    format: int = 2  # first, so a glance at the file's start tells it from the old whole-run file
    meta: RunMeta
    metrics: Metrics
    categories: dict[str, dict]  # name → {n, correct, accuracy}
    failures: int


class RunItem(ItemResult):
    """A scored item as kept: the result and the evidence strings the set expected."""

    evidence: list[str] = Field(default_factory=list)


class Row(BaseModel):
    """One line of rows.jsonl: an item's table row, and where the item is in items.jsonl."""

    id: str
    category: str | None
    question: str
    correct: bool
    missing: list[str]
    evidence_rank: int | None
    latency_ms: float
    at: int


class OldRun(BaseModel):
    """run.json as runs were kept before items.jsonl: the whole run in one file."""

    meta: RunMeta
    run: EvalRun
    eval_items: list[EvalItem] = Field(default_factory=list)


def runs_dir(settings: Settings) -> Path:
    return settings.data_dir / "eval_runs"


def new_run_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class ItemFiles:
    """items.jsonl and rows.jsonl of a folder, appended one item at a time, with the tally."""

    def __init__(self, folder: Path, suffix: str = "") -> None:
        self.tally = Tally()
        self.items = open(folder / (ITEMS_FILE + suffix), "xb")
        self.rows = open(folder / (ROWS_FILE + suffix), "xb")

    def add(self, item: RunItem) -> None:
        at = self.items.tell()
        self.items.write(item.model_dump_json().encode() + b"\n")
        row = Row(at=at, **item.model_dump(include=set(Row.model_fields) - {"at"}))
        self.rows.write(row.model_dump_json().encode() + b"\n")
        self.tally.add(item)

    def close(self) -> None:
        self.items.close()
        self.rows.close()

    def summary(self, meta: RunMeta) -> RunSummary:
        return RunSummary(meta=meta, metrics=self.tally.metrics(), categories=self.tally.by_category(), failures=self.tally.failures)


def copy_run(folder: Path, also: Path) -> None:
    """Every file of a run into `also`, each one whole or not at all."""
    try:
        also.mkdir(parents=True, exist_ok=True)
        for source in folder.iterdir():
            tmp = also / f".{source.name}.{secrets.token_hex(4)}.tmp"
            try:
                shutil.copyfile(source, tmp)
                os.replace(tmp, also / source.name)
            finally:
                tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write the run to {also}: {exc.strerror or exc}") from None


class KeptRun:
    """A kept run opened for reading: its summary in memory, its items read from disk on demand.
    Nothing here reads every item to show a page: `rows` streams the short rows, `item` seeks
    to one item."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.summary = _summary(folder)

    @property
    def meta(self) -> RunMeta:
        return self.summary.meta

    def rows(self) -> Iterator[Row]:
        with open(self.folder / ROWS_FILE, "rb") as handle:
            for line in handle:
                yield Row.model_validate_json(line)

    def item(self, at: int) -> RunItem:
        with open(self.folder / ITEMS_FILE, "rb") as handle:
            handle.seek(at)
            return RunItem.model_validate_json(handle.readline())

    def items(self) -> Iterator[RunItem]:
        with open(self.folder / ITEMS_FILE, "rb") as handle:
            for line in handle:
                yield RunItem.model_validate_json(line)


def _summary(folder: Path) -> RunSummary:
    path = folder / RUN_FILE
    try:
        data = path.read_bytes()  # small in today's layout; an old whole run is upgraded once
        if b'"format"' not in data[:64]:
            return _upgrade(folder)
        return RunSummary.model_validate_json(data)
    except FileNotFoundError:
        raise UserError(f"{folder} is not an evaluation run (no {RUN_FILE})") from None
    except (OSError, ValidationError, ValueError) as exc:
        raise UserError(f"{path} is damaged ({exc.__class__.__name__})") from None


def _upgrade(folder: Path) -> RunSummary:
    """A run kept before items.jsonl (the whole run in run.json) is rewritten once in today's
    layout: items.jsonl and rows.jsonl first, then the small run.json, so a crash midway
    leaves the old run.json to upgrade again."""
    old = OldRun.model_validate_json((folder / RUN_FILE).read_bytes())
    evidence = {item.id: item.evidence for item in old.eval_items}
    suffix = f".{secrets.token_hex(4)}.tmp"
    try:
        files = ItemFiles(folder, suffix)
        try:
            for result in old.run.items:
                files.add(RunItem.model_construct(**result.__dict__, evidence=evidence.get(result.id, [])))
        finally:
            files.close()
        for name in (ITEMS_FILE, ROWS_FILE):
            os.replace(folder / (name + suffix), folder / name)
        summary = files.summary(old.meta)
        atomic_write(folder / RUN_FILE, summary.model_dump_json(indent=2))
    except OSError as exc:
        raise UserError(f"{folder} holds a run in the old layout and cannot be upgraded: {exc.strerror or exc}") from None
    finally:
        for name in (ITEMS_FILE, ROWS_FILE):
            (folder / (name + suffix)).unlink(missing_ok=True)
    return summary


def list_runs(settings: Settings) -> list[RunMeta]:
    """Every readable run in the data directory, newest first, from each run's small meta.json
    (a page load once parsed every run.json: 12.5 s and 2.3 GB with one 50,000-item run); a
    run kept before meta.json existed is read once and given one. Damaged folders are left out."""
    root = runs_dir(settings)
    if not root.is_dir():
        return []
    metas = []
    for folder in root.iterdir():
        if RUN_ID.match(folder.name):
            try:
                metas.append(_meta(folder))
            except UserError:
                continue
    return sorted(metas, key=lambda m: m.id, reverse=True)


def _meta(folder: Path) -> RunMeta:
    try:
        return RunMeta.model_validate_json((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError):
        meta = _summary(folder).meta
        try:
            atomic_write(folder / META_FILE, meta.model_dump_json(indent=2))
        except OSError:
            pass  # a read-only data folder: listed all the same
        return meta


def run_folder(settings: Settings, ref: str | Path) -> Path:
    """A run reference is a folder holding run.json, or the id of a run in the data directory."""
    path = Path(ref)
    if (path / RUN_FILE).is_file():
        return path
    if RUN_ID.match(str(ref)) and (runs_dir(settings) / str(ref) / RUN_FILE).is_file():
        return runs_dir(settings) / str(ref)
    raise UserError(f"no evaluation run '{ref}': give a run folder or a run id from `assistant eval runs`")


def load(settings: Settings, ref: str | Path) -> KeptRun:
    return KeptRun(run_folder(settings, ref))


def json_lines(run: KeptRun) -> Iterator[str]:
    """The run as `assistant eval --json` prints it, `{"metrics": …, "items": […]}`, in pieces:
    the items are copied from items.jsonl, never held together."""
    yield '{"metrics": ' + run.summary.metrics.model_dump_json() + ', "items": ['
    with open(run.folder / ITEMS_FILE, encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            yield ("," if i else "") + "\n" + line.rstrip("\n")
    yield "\n]}"

