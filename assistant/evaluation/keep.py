"""Keeping a run: plan it, ask and score every item, and write the run folder as it goes.

A run is written item by item into a staging folder as it is scored (`RunWriter`), so memory
holds counters, not items (a 50,000-item run once took 1.9 GB), and the folder is renamed into
place when it is whole: a crash never leaves half a run listed. Beside the store's files
(assistant.evaluation.runs) it writes the ones assistant.evaluation.report draws: results.csv,
metrics.json and report.html.
"""

from __future__ import annotations

import csv
import fcntl
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Callable

from assistant.answer_models import Answer
from assistant.errors import UserError
from assistant.evaluation import report, sets
from assistant.evaluation.evaluate import ItemResult, LoadReport, score_items
from assistant.evaluation.report import REPORT_ITEMS
from assistant.evaluation.runs import META_FILE, RUN_FILE, ItemFiles, ModelStamp, RunItem, RunMeta, copy_run, new_run_id, runs_dir
from assistant.settings import Settings

STAGING = re.compile(r"^\.[0-9]{8}-[0-9]{6}-[0-9a-f]{4}\..+\.tmp$")
STALE_AFTER_S = 60  # a staging folder nobody holds and older than this was left by a killed run


@dataclass
class PlannedRun:
    """A run about to start: its description, its items, and how to ask them (the assistant
    pinned to the model the run started with, so a retrain meanwhile does not mix two models)."""

    meta: RunMeta
    loaded: LoadReport
    ask: Callable[..., Answer]


def plan_run(assistant, source: Path, loaded: LoadReport, eval_set: str, shown_as: str | None = None,
             drop_trained: bool = False) -> PlannedRun:
    """Describe a run of the set `loaded` from `source` (when, which set and role, index, model,
    answer mode). A held-out set the model trained on is refused, or run without those items
    (`drop_trained`)."""
    role = sets.role_of(assistant.settings, source)
    engine = assistant.engine
    if role == sets.HELD_OUT:
        loaded = sets.guard_held_out(loaded, shown_as or source.name, engine.model_meta, drop_trained)
    manifest = engine.index.manifest
    meta = RunMeta(
        id=new_run_id(),
        created_at=datetime.now().isoformat(timespec="seconds"),
        eval_set=eval_set,
        mode=assistant.mode,
        index_build=manifest.build_id,
        embedding=manifest.embedding_spec.describe(),
        skipped_rows=loaded.errors,
        role=role,
        model=ModelStamp.of(engine.model_meta),
        model_recorded=True,
    )
    return PlannedRun(meta, loaded, partial(assistant.ask, engine=engine))


def keep_run(settings: Settings, planned: PlannedRun, progress: Callable[[int, int], None] | None = None,
             also: Path | None = None) -> Path:
    """Ask and score every item, keeping the run as it goes (`RunWriter`); the run's folder."""
    with RunWriter(settings, planned.meta) as writer:
        for item, result in score_items(planned.ask, planned.loaded.items, progress):
            writer.add(result, item.evidence)
        return writer.finish(also=also)


class RunWriter:
    """One run being kept, written as it is scored:

        with RunWriter(settings, meta) as writer:
            for item, result in score_items(ask, items):
                writer.add(result, item.evidence)
            folder = writer.finish(also=out)

    Each item is appended to items.jsonl, rows.jsonl and results.csv in a staging folder at once;
    report.html keeps the first REPORT_ITEMS failures and passes. `finish` writes the metrics and
    the report and renames the folder into place; leaving the block without it removes the
    staging folder. A staging folder left by a killed run is removed by the next run."""

    def __init__(self, settings: Settings, meta: RunMeta) -> None:
        self.meta, self.root = meta, runs_dir(settings)
        self.failed: list[RunItem] = []
        self.passed: list[RunItem] = []
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _remove_stale_staging(self.root)
            self.staging = self.root / f".{meta.id}.{secrets.token_hex(4)}.tmp"
            self.staging.mkdir()
            self._held = _hold(self.staging)
            self.files = ItemFiles(self.staging)
            self.csv_handle = open(self.staging / "results.csv", "x", encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise UserError(f"cannot write to the data directory {self.root}: {exc.strerror or exc}") from None
        self.csv = csv.writer(self.csv_handle, lineterminator="\r\n")
        self.csv.writerow(report.CSV_COLUMNS)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *_exc) -> None:
        self._close()
        if self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)

    def add(self, result: ItemResult, evidence: list[str]) -> None:
        item = RunItem.model_construct(**result.__dict__, evidence=evidence)  # validated when scored
        try:
            self.files.add(item)
            self.csv.writerow(report.csv_cells(item))
            for handle in (self.files.items, self.files.rows, self.csv_handle):
                handle.flush()  # on disk as it is scored, not in this process's buffers
        except OSError as exc:
            raise UserError(f"cannot write the run to {self.root}: {exc.strerror or exc}") from None
        shown = self.passed if item.correct else self.failed
        if len(shown) < REPORT_ITEMS:
            shown.append(item)

    def finish(self, also: Path | None = None) -> Path:
        """Write the summary files, put the run in place, and copy it into `also` when given
        (`assistant eval --out`)."""
        self._close()
        summary = self.files.summary(self.meta)
        shown = (self.failed + self.passed)[:REPORT_ITEMS]
        files = {
            "metrics.json": report.metrics_json(summary),
            "report.html": report.report_html(summary, shown, self.files.tally.latencies),
            RUN_FILE: summary.model_dump_json(indent=2),
            META_FILE: self.meta.model_dump_json(indent=2),
        }
        target = self.root / self.meta.id
        try:
            for name, text in files.items():
                (self.staging / name).write_text(text, encoding="utf-8")
            os.replace(self.staging, target)
            (target / _HOLD_FILE).unlink()
        except OSError as exc:
            raise UserError(f"cannot write the run to {self.root}: {exc.strerror or exc}") from None
        if also is not None:
            copy_run(target, also)
        return target

    def _close(self) -> None:
        for handle in (self.files, self.csv_handle, self._held):
            handle.close()


_HOLD_FILE = ".writing"


def _hold(staging: Path):
    """An exclusive lock on a staging folder for as long as its writer lives (closed with the
    process however it ends): a staging folder that can be locked was left by a killed run."""
    handle = open(staging / _HOLD_FILE, "a+")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _remove_stale_staging(root: Path) -> None:
    for folder in root.iterdir():
        try:
            if not STAGING.match(folder.name) or time.time() - folder.stat().st_mtime < STALE_AFTER_S:
                continue  # (young: its writer may be about to lock it)
            with open(folder / _HOLD_FILE, "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
        except (BlockingIOError, FileNotFoundError, NotADirectoryError):
            continue  # a live run's, or finished meanwhile
