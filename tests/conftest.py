"""Shared fixtures: the real report, and one index of it built once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "corpus" / "zhejiang-industrial-clusters-report.md"


@pytest.fixture(scope="session")
def report_text() -> str:
    return REPORT.read_text(encoding="utf-8")


def make_settings(tmp: Path, corpus: Path, **extra) -> Settings:
    return Settings(corpus_dir=corpus, persist_dir=tmp / "index", data_dir=tmp / "data", embedding="hashing", **extra)


def _shared_root(tmp_path_factory) -> Path:
    """A folder every pytest-xdist worker of this run sees (each worker's basetemp is inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def report_settings(tmp_path_factory) -> Settings:
    """The report's corpus and index, shared by the workers (built once, read-only in tests);
    data (feedback, runs) stays per worker."""
    shared = _shared_root(tmp_path_factory) / "report"
    shared.mkdir(exist_ok=True)
    corpus = shared / "corpus"
    corpus.mkdir(exist_ok=True)
    if not (corpus / REPORT.name).exists():
        shutil.copy(REPORT, corpus / REPORT.name)
    own = tmp_path_factory.mktemp("report")
    return make_settings(own, corpus).model_copy(update={"persist_dir": shared / "index"})


@pytest.fixture(scope="session")
def report_index(report_settings):
    from filelock import FileLock

    from assistant.index.build import build_index

    from assistant.index.loaded import LoadedIndex

    with FileLock(str(report_settings.persist_dir.parent / "build.lock")):
        build_index(report_settings)  # the first worker builds, the others find it up to date
    return LoadedIndex.open(report_settings)


@pytest.fixture(scope="session")
def report_assistant(report_settings, report_index):
    from assistant.answer.chain import Assistant

    return Assistant(report_settings, report_index)


@pytest.fixture(scope="session")
def learned_settings(tmp_path_factory, report_settings) -> Settings:
    """The report indexed with multilingual-e5-small and the model `assistant tune` trains from
    evals/train/, as `scripts/run` makes them (built once, shared by the workers)."""
    from filelock import FileLock

    from assistant.index.build import build_index
    from assistant.learn.tune import ensure_model

    shared = _shared_root(tmp_path_factory) / "learned"
    shared.mkdir(exist_ok=True)
    settings = report_settings.model_copy(
        update={"persist_dir": shared / "index", "embedding": "e5", "train_dir": ROOT / "evals" / "train"}
    )
    with FileLock(str(shared / "build.lock")):
        build_index(settings)
        ensure_model(settings)
    return settings


@pytest.fixture(scope="session")
def learned_assistant(learned_settings):
    from assistant.answer.chain import Assistant

    return Assistant(learned_settings)


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory):
    """The small made-up report of tiny_report.py, indexed with e5 and trained (built once,
    shared by the workers); a test that writes takes its own copy (`tiny_report.copied`)."""
    from filelock import FileLock

    from support.tiny_report import trained_tiny

    shared = _shared_root(tmp_path_factory) / "tiny"
    with FileLock(str(shared) + ".lock"):
        return trained_tiny(shared)
