"""Server mode: the same commands and the same answers against a real `chroma run` on loopback.

One server per module, started from the installed chromadb package on a free 127.0.0.1 port.
Every build gets its own collection on the server; pruning a build deletes its collection.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.answer.chain import Assistant
from assistant.errors import IndexMismatchError, UserError
from assistant.evaluation.evaluate import load_eval_set
from assistant.index.build import build_index
from assistant.index.loaded import LoadedIndex
from assistant.index.manifest import current_build
from assistant.index.vectors import chroma_client
from conftest import REPORT, ROOT, make_settings

pytestmark = pytest.mark.server

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 240  # a cold start imports chromadb, slow on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """(host, port) of a `chroma run` serving a fresh folder; stopped after the module."""
    data = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log = open(data / "server.log", "wb")
    process = subprocess.Popen(
        [str(BIN / "chroma"), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"chroma run exited with {process.returncode}: {(data / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("chroma run did not answer its heartbeat in time")
            time.sleep(0.5)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _server_settings(tmp: Path, corpus: Path, server) -> object:
    host, port = server
    return make_settings(tmp, corpus, chroma_host=host, chroma_port=port)


def _collections(settings) -> set[str]:
    return {c.name for c in chroma_client(settings, settings.persist_dir).list_collections()}


def _reply(answer) -> tuple:
    return answer.answer, answer.answerable, [c.chunk_id for c in answer.citations], [p.chunk_id for p in answer.retrieved]


def test_the_report_gives_the_same_answers_through_a_server_as_embedded(tmp_path, chroma_server, report_assistant):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    settings = _server_settings(tmp_path, corpus, chroma_server)
    manifest = build_index(settings).manifest
    assert manifest.vector_store == f"http://{chroma_server[0]}:{chroma_server[1]}"
    assert not (current_build(settings.persist_dir) / "chroma").exists()  # the vectors are on the server
    assert manifest.collection in _collections(settings)
    served = Assistant(settings)
    assert served.index.store._collection.count() == manifest.chunks == report_assistant.index.manifest.chunks
    items = load_eval_set(ROOT / "evals" / "report_qa.jsonl").items
    for item in items:
        embedded = report_assistant.ask(item.question, history=item.history)
        assert _reply(served.ask(item.question, history=item.history)) == _reply(embedded), item.id


def test_updates_switch_collections_and_pruning_deletes_old_ones_from_the_server(tmp_path, chroma_server):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# 甲报告\n\n## 一、总论\n\n杭州有很多企业。\n", encoding="utf-8")
    (corpus / "b.md").write_text("# 乙报告\n\n## 一、总论\n\n宁波有港口。\n", encoding="utf-8")
    settings = _server_settings(tmp_path, corpus, chroma_server)
    first = build_index(settings).manifest
    (corpus / "c.md").write_text("# 丙报告\n\n## 一、总论\n\n温州有鞋业集群，企业 300 家。\n", encoding="utf-8")
    second = build_index(settings).manifest
    assert second.fitted_chunks == first.fitted_chunks and second.updated_chunks > 0  # an update
    mine = {n for n in _collections(settings) if n in {first.collection, second.collection}}
    assert mine == {first.collection, second.collection}  # the previous one may still serve a reader
    assert "300" in Assistant(settings).ask("温州鞋业集群有多少家企业？").answer
    (corpus / "a.md").unlink()
    third = build_index(settings, rebuild=True).manifest
    names = _collections(settings)
    assert first.collection not in names and {second.collection, third.collection} <= names
    assert {p.name for p in (settings.persist_dir / "builds").iterdir()} == {second.build_id, third.build_id}
    assert all(c.source != "a.md" for c in LoadedIndex.open(settings).chunks)


def test_an_embedded_index_is_not_silently_read_through_a_server(tmp_path, chroma_server):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# 甲报告\n\n## 一、总论\n\n杭州有很多企业。\n", encoding="utf-8")
    embedded = make_settings(tmp_path, corpus)
    build_index(embedded)
    with pytest.raises(IndexMismatchError, match="run `assistant index` with these Chroma settings"):
        LoadedIndex.open(_server_settings(tmp_path, corpus, chroma_server))
    # indexing with the server settings moves the vectors there with a full build
    moved = build_index(_server_settings(tmp_path, corpus, chroma_server)).manifest
    assert moved.vector_store.startswith("http://") and moved.updated_chunks == 0


def test_an_unreachable_server_is_one_user_error(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# 甲\n\n杭州有很多企业。\n", encoding="utf-8")
    with pytest.raises(UserError, match="cannot reach the Chroma server"):
        build_index(make_settings(tmp_path, corpus, chroma_host="127.0.0.1", chroma_port=_free_port()))


def _cli(*args, cwd, env=None):
    return subprocess.run(
        [str(BIN / "assistant"), *args], capture_output=True, text=True, timeout=600, cwd=cwd,
        env={**os.environ, "ASSISTANT_EMBEDDING": "hashing", **(env or {})},
    )


def test_every_command_takes_the_server_from_flags_or_environment(tmp_path, chroma_server):
    host, port = chroma_server
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "r.md").write_text(
        "# 报告\n\n## 一、现状\n\n杭州有产业集群 124 个，年产值 3380 亿元。\n", encoding="utf-8"
    )
    flags = ["--chroma-host", host, "--chroma-port", str(port)]
    built = _cli("index", *flags, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    asked = _cli("ask", "杭州有多少个产业集群？", "--json", *flags, cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert "124" in json.loads(asked.stdout)["answer"]
    env = {"ASSISTANT_CHROMA_HOST": host, "ASSISTANT_CHROMA_PORT": str(port)}
    info = _cli("info", cwd=tmp_path, env=env)
    assert info.returncode == 0 and f"http://{host}:{port}" in info.stdout
    (tmp_path / "set.jsonl").write_text(
        json.dumps({"id": "a", "question": "杭州有多少个产业集群？", "answerable": True, "must_include": ["124"]},
                   ensure_ascii=False) + "\n", encoding="utf-8",
    )
    scored = _cli("eval", "--set", "set.jsonl", "--json", cwd=tmp_path, env=env)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["metrics"]["answer_accuracy"] == 1.0
    # without the server settings the same index is a one-line error, not a traceback
    plain = _cli("ask", "杭州有多少个产业集群？", cwd=tmp_path)
    assert plain.returncode == 2
    assert plain.stderr.startswith("error: the index keeps its vectors at http://") and "Traceback" not in plain.stderr
