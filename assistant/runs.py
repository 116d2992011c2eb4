"""The run store: every evaluation run kept in `data_dir/eval_runs/<run id>/` so runs can be
listed and compared later.

A run folder holds `run.json` (what the run was and every scored item), plus the files a
trainer reads: `results.csv`, `metrics.json`, `report.html`. Folders and files are written to
a temporary name first and renamed into place, so a crash never leaves half a run behind.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from assistant.errors import UserError
from assistant.evaluate import EvalItem, EvalRun, LoadReport
from assistant.settings import Settings

RUN_FILE = "run.json"
META_FILE = "meta.json"  # what a listing of runs needs, so listing never parses a run's items
RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")


class RunMeta(BaseModel):
    id: str
    created_at: str
    eval_set: str
    mode: str
    index_build: str | None = None
    embedding: str | None = None
    skipped_rows: list[str] = Field(default_factory=list)


class StoredRun(BaseModel):
    meta: RunMeta
    run: EvalRun
    eval_items: list[EvalItem] = Field(default_factory=list)  # the set as asked: evidence, must_include


def runs_dir(settings: Settings) -> Path:
    return settings.data_dir / "eval_runs"


def new_run_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def record(assistant, run: EvalRun, loaded: LoadReport, eval_set: str) -> StoredRun:
    """Describe a finished run: when, on which set, with which index and answer mode."""
    manifest = assistant.index.manifest
    meta = RunMeta(
        id=new_run_id(),
        created_at=datetime.now().isoformat(timespec="seconds"),
        eval_set=eval_set,
        mode=assistant.mode,
        index_build=manifest.build_id,
        embedding=manifest.embedding_spec.describe(),
        skipped_rows=loaded.errors,
    )
    return StoredRun(meta=meta, run=run, eval_items=loaded.items)


def atomic_write(path: Path, data: str, encoding: str = "utf-8") -> None:
    """Write beside the target, then rename over it: readers see the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render(stored: StoredRun) -> dict[str, tuple[str, str]]:
    """A run folder's files, name → (text, encoding): rendered once, written wherever asked."""
    from assistant import report  # report renders this module's models, so it imports them

    return {
        RUN_FILE: (stored.model_dump_json(indent=2), "utf-8"),
        META_FILE: (stored.meta.model_dump_json(indent=2), "utf-8"),
        "results.csv": (report.results_csv(stored.run), "utf-8-sig"),  # the BOM lets Excel read Chinese
        "metrics.json": (report.metrics_json(stored), "utf-8"),
        "report.html": (report.report_html(stored), "utf-8"),
    }


def write_folder(files: dict[str, tuple[str, str]], folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, (text, encoding) in files.items():
            atomic_write(folder / name, text, encoding)
    except OSError as exc:
        raise UserError(f"cannot write the run to {folder}: {exc.strerror or exc}") from None


def save(settings: Settings, stored: StoredRun, also: Path | None = None) -> Path:
    """Keep the run in the data directory (the folder appears complete or not at all), and write
    the same files into `also` when given (`assistant eval --out`)."""
    files = render(stored)
    root = runs_dir(settings)
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{stored.meta.id}."))
    except OSError as exc:
        raise UserError(f"cannot write to the data directory {root}: {exc.strerror or exc}") from None
    target = root / stored.meta.id
    try:
        write_folder(files, staging)
        staging.chmod(0o755)
        os.replace(staging, target)
    finally:
        if staging.exists():
            for leftover in staging.iterdir():
                leftover.unlink()
            staging.rmdir()
    if also is not None:
        write_folder(files, also)
    return target


def _read(folder: Path) -> StoredRun:
    try:
        return StoredRun.model_validate_json((folder / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{folder} is not an evaluation run (no {RUN_FILE})") from None
    except (OSError, ValidationError, ValueError) as exc:
        raise UserError(f"{folder / RUN_FILE} is damaged ({exc.__class__.__name__})") from None


def list_runs(settings: Settings) -> list[RunMeta]:
    """Every readable run in the data directory, newest first, from each run's small meta.json
    (a page load once parsed every run.json: 12.5 s and 2.3 GB with one 50,000-item run); a
    run kept before meta.json existed is read whole once and given one. Damaged folders are
    left out."""
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
        meta = _read(folder).meta
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


def load(settings: Settings, ref: str | Path) -> StoredRun:
    return _read(run_folder(settings, ref))
