"""Index safety: a rebuild killed at any stage, a damaged index, and queries during a rebuild.

Rebuilds run as the real `assistant index --rebuild` process on a copy of the report index and
are killed with SIGKILL; answers are compared with the ones the index gave before.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from support import cli_runner

from assistant.answer.chain import Assistant
from assistant.errors import UserError
from assistant.index.build import build_index
from assistant.index.loaded import LoadedIndex
from assistant.index.manifest import MANIFEST, current_build
from conftest import make_settings

ASSISTANT = cli_runner.EXECUTABLE
QUESTION = "杭州有多少个产业集群？"


def _copy_index(report_settings, tmp: Path):
    """A deployment of its own: a corpus copy and a copy of the session's report index."""
    shutil.copytree(report_settings.corpus_dir, tmp / "corpus")
    shutil.copytree(report_settings.persist_dir, tmp / "index")
    return make_settings(tmp, tmp / "corpus")


def _reply(assistant: Assistant) -> tuple[str, tuple[str, ...]]:
    answer = assistant.ask(QUESTION)
    return answer.answer, tuple(c.chunk_id for c in answer.citations)


@pytest.fixture()
def deployment(report_settings, report_index, tmp_path):
    settings = _copy_index(report_settings, tmp_path)
    return settings, _reply(Assistant(settings))


def _start_rebuild(settings) -> subprocess.Popen:
    env = {
        **os.environ,
        "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
        "ASSISTANT_PERSIST_DIR": str(settings.persist_dir),
        "ASSISTANT_EMBEDDING": "hashing",
    }
    return subprocess.Popen(
        [ASSISTANT, "index", "--rebuild"],
        cwd=settings.persist_dir.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# what the new build folder holds when the kill comes, in the order a build writes them
STAGES = {
    "folder created": lambda build: True,
    "vector store opened": lambda build: (build / "chroma").is_dir(),
    "lexical index written": lambda build: (build / "lexical").is_dir(),
    "chunks written": lambda build: (build / "chunks.jsonl").is_file(),
}


def _kill_at(settings, stage: str) -> Path:
    """Start a rebuild, SIGKILL it as soon as its new build folder reaches `stage`."""
    builds = settings.persist_dir / "builds"
    before = {p.name for p in builds.iterdir()}
    process = _start_rebuild(settings)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and process.poll() is None:
            new = [p for p in builds.iterdir() if p.name not in before]
            if new and STAGES[stage](new[0]):
                process.kill()
                process.wait()
                return new[0]
            time.sleep(0.005)
        pytest.fail(f"the rebuild ended before reaching {stage!r}: {process.communicate()}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_rebuild_killed_at_any_stage_leaves_the_previous_index_answering(deployment):
    settings, before = deployment
    answering = current_build(settings.persist_dir).name
    already_open = Assistant(settings)
    leftovers = []
    for stage in STAGES:
        leftover = _kill_at(settings, stage)
        current = current_build(settings.persist_dir).name
        if current != answering:  # the kill came after the atomic switch (the last writes take
            # milliseconds, so on a fast machine this can happen at the later stages): the new build is whole
            assert current == leftover.name and (leftover / MANIFEST).is_file(), stage
            assert LoadedIndex.open(settings).manifest.build_id == current, stage
            answering = current
        else:
            leftovers.append(leftover)
        assert _reply(Assistant(settings)) == before, f"a fresh process after a kill at {stage!r}"
        assert _reply(already_open) == before, f"a running process after a kill at {stage!r}"
    # the next build skips an unchanged corpus and ignores the half-written folders
    assert build_index(settings).skipped
    assert _reply(Assistant(settings)) == before
    # a real rebuild switches to itself and removes them
    new = build_index(settings, rebuild=True).manifest.build_id
    remaining = {p.name for p in (settings.persist_dir / "builds").iterdir()}
    assert {new, answering} <= remaining
    # besides those, only whole builds that a process here still answers from (already_open's)
    assert all((settings.persist_dir / "builds" / name / MANIFEST).is_file() for name in remaining)
    assert not any(leftover.exists() for leftover in leftovers)
    assert not list(settings.persist_dir.glob(".CURRENT.*"))
    assert _reply(Assistant(settings)) == before


def test_questions_are_answered_without_a_failure_while_a_rebuild_runs(deployment):
    settings, before = deployment
    answering = current_build(settings.persist_dir).name
    running = Assistant(settings)
    replies: list[tuple[str, tuple[str, ...]]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def ask_repeatedly() -> None:
        while not done.is_set():
            try:
                replies.append(_reply(running))
                # a process starting now opens whichever build CURRENT names at that moment
                replies.append(_reply(Assistant(settings)))
            except BaseException as exc:  # noqa: BLE001 - every failure is what the test counts
                failures.append(exc)

    asker = threading.Thread(target=ask_repeatedly)
    asker.start()
    try:
        process = _start_rebuild(settings)
        out, err = process.communicate(timeout=600)
    finally:
        done.set()
        asker.join()
    assert process.returncode == 0, err
    assert current_build(settings.persist_dir).name != answering
    assert failures == []
    assert len(replies) >= 4
    assert set(replies) == {before}
    assert _reply(running) == before and _reply(Assistant(settings)) == before


# ways an index gets damaged on disk, each applied to the answering build folder
def _sqlite_garbage(build: Path) -> None:
    (build / "chroma" / "chroma.sqlite3").write_bytes(b"\x00not a database\xff" * 1024)


def _sqlite_truncated(build: Path) -> None:
    db = build / "chroma" / "chroma.sqlite3"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])


def _chroma_deleted(build: Path) -> None:
    shutil.rmtree(build / "chroma")


def _chunks_cut_mid_record(build: Path) -> None:
    chunks = build / "chunks.jsonl"
    chunks.write_bytes(chunks.read_bytes()[: chunks.stat().st_size // 2])


def _chunks_cut_at_a_record(build: Path) -> None:
    chunks = build / "chunks.jsonl"
    lines = chunks.read_text(encoding="utf-8").splitlines(keepends=True)
    chunks.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")


def _chunks_with_foreign_records(build: Path) -> None:
    chunks = build / "chunks.jsonl"
    lines = chunks.read_text(encoding="utf-8").splitlines(keepends=True)
    chunks.write_text('{"unexpected": 1}\n' + "".join(lines[1:]), encoding="utf-8")


def _manifest_garbage(build: Path) -> None:
    (build / "manifest.json").write_bytes(b"\xff\xfe\x00garbage")


def _manifest_wrong_shape(build: Path) -> None:
    (build / "manifest.json").write_text('{"chunks": "many"}')


def _embedding_state_garbage(build: Path) -> None:
    (build / "hashing.json").write_text("{")


def _chunks_deleted(build: Path) -> None:
    (build / "chunks.jsonl").unlink()


def _lexical_deleted(build: Path) -> None:
    shutil.rmtree(build / "lexical")


def _embedding_state_deleted(build: Path) -> None:
    (build / "hashing.json").unlink()  # (it used to be silently refitted, costing accuracy)


DAMAGE = [
    _sqlite_garbage,
    _sqlite_truncated,
    _chroma_deleted,
    _chunks_cut_mid_record,
    _chunks_cut_at_a_record,
    _chunks_with_foreign_records,
    _manifest_garbage,
    _manifest_wrong_shape,
    _embedding_state_garbage,
    _chunks_deleted,
    _lexical_deleted,
    _embedding_state_deleted,
]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_index_is_reported_and_assistant_index_repairs_it(report_settings, report_assistant, tmp_path, damage):
    settings = _copy_index(report_settings, tmp_path)
    expected = _reply(report_assistant)  # (the copy's answers; opening the copy would keep its Chroma in memory)
    damage(current_build(settings.persist_dir))
    with pytest.raises(UserError, match=r"damaged .*run `assistant index` to repair it") as raised:
        LoadedIndex.open(settings)
    assert "\n" not in str(raised.value)
    info = cli_runner.run("info", "--persist", str(settings.persist_dir), cwd=tmp_path)
    assert "damaged" in info.stdout and "Traceback" not in info.stderr
    assert not build_index(settings).skipped  # no --rebuild needed
    assert _reply(Assistant(settings)) == expected


def test_rebuild_replaces_an_index_whose_manifest_is_damaged(report_settings, report_index, tmp_path):
    settings = _copy_index(report_settings, tmp_path)
    expected = _reply(Assistant(settings))
    _manifest_garbage(current_build(settings.persist_dir))
    assert not build_index(settings, rebuild=True).skipped
    assert _reply(Assistant(settings)) == expected


def test_a_garbage_current_pointer_reads_as_no_index_and_index_writes_a_new_one(report_settings, report_index, tmp_path):
    settings = _copy_index(report_settings, tmp_path)
    (settings.persist_dir / "CURRENT").write_bytes(b"\xff../../\x00etc")
    with pytest.raises(UserError, match="run `assistant index`"):
        LoadedIndex.open(settings)
    assert not build_index(settings).skipped
    assert Assistant(settings).ask(QUESTION).answerable


def test_the_cli_reports_a_damaged_chroma_file_in_one_line(report_settings, report_index, tmp_path):
    settings = _copy_index(report_settings, tmp_path)
    _sqlite_garbage(current_build(settings.persist_dir))
    result = cli_runner.run("ask", QUESTION, "--persist", str(settings.persist_dir), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "run `assistant index` to repair it" in result.stderr


SMALL_REPORT = "# 示例报告\n\n## 一、概况\n\n" + "".join(f"第{i}市有 {i * 3} 个产业集群，年产值 {i * 40} 亿元。" for i in range(1, 40)) + "\n"


def test_two_rebuilds_at_once_leave_one_whole_index_ten_times_out_of_ten(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text(SMALL_REPORT, encoding="utf-8")
    settings = make_settings(tmp_path, corpus)
    env = cli_runner.environment(ASSISTANT_CORPUS_DIR=str(corpus), ASSISTANT_PERSIST_DIR=str(settings.persist_dir),
                                 ASSISTANT_EMBEDDING="hashing")
    for _ in range(10):
        writers = [subprocess.Popen([ASSISTANT, "index", "--rebuild"], env=env, cwd=tmp_path,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for writer in writers:
            out, err = writer.communicate(timeout=600)
            assert writer.returncode == 0 and "Traceback" not in err, err
        index = LoadedIndex.open(settings)  # opens whole: chunks, BM25 and every vector agree
        assert index.store._collection.count() == index.manifest.chunks == len(index.chunks)
        assert build_index(settings).skipped  # and the next `assistant index` has nothing to repair
        index.held.close()


def test_a_build_that_a_process_answers_from_is_not_pruned_until_it_lets_go(deployment):
    deployment, _ = deployment
    answering = Assistant(deployment)
    before = _reply(answering)
    first = answering.index.build
    for _ in range(2):  # the first build is now neither the current nor the previous one
        build_index(deployment, rebuild=True)
    assert first.is_dir() and current_build(deployment.persist_dir) != first
    assert _reply(answering) == before  # still answering from its own build
    answering.index.held.close()
    del answering
    gc.collect()  # (the fixture's own Assistant held the same build until it is collected)
    build_index(deployment, rebuild=True)
    assert not first.exists()


def test_what_a_killed_build_left_is_cleaned_up_by_the_next_index_even_with_nothing_to_do(deployment):
    deployment, _ = deployment
    half = deployment.persist_dir / "builds" / "20200101T000000-dead00"
    (half / "chroma").mkdir(parents=True)
    (half / "chunks.jsonl").write_text("{", encoding="utf-8")
    (deployment.persist_dir / ".CURRENT.20200101T000000-dead00.tmp").write_text("x", encoding="utf-8")
    assert build_index(deployment).skipped
    assert not half.exists() and not list(deployment.persist_dir.glob(".CURRENT.*.tmp"))
