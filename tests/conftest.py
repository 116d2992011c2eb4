"""Shared fixtures: the real report, and one index of it built once per test session."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def report_settings(tmp_path_factory) -> Settings:
    tmp = tmp_path_factory.mktemp("report")
    corpus = tmp / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    return make_settings(tmp, corpus)


@pytest.fixture(scope="session")
def report_index(report_settings):
    from assistant.index import LoadedIndex, build_index

    build_index(report_settings)
    return LoadedIndex.open(report_settings)


@pytest.fixture(scope="session")
def report_assistant(report_settings, report_index):
    from assistant.chain import Assistant

    return Assistant(report_settings, report_index)
