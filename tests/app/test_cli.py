"""The `assistant` command as a user runs it: real index, exact contract (in-process, plus the real console script)."""

import json
import subprocess

import pytest

from support.cli_runner import EXECUTABLE, environment, run
from conftest import REPORT


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A checkout-like folder with corpus/ and an index built by the CLI itself."""
    root = tmp_path_factory.mktemp("cli")
    (root / "corpus").mkdir()
    (root / "corpus" / REPORT.name).write_bytes(REPORT.read_bytes())
    built = run("index", cwd=root, env={"ASSISTANT_EMBEDDING": "hashing"})
    assert built.returncode == 0, built.stderr
    assert "1 documents" in built.stdout and "hashing" in built.stdout
    return root


def test_index_twice_does_no_work_the_second_time(workdir):
    again = run("index", cwd=workdir, env={"ASSISTANT_EMBEDDING": "hashing"})
    assert again.returncode == 0
    assert "unchanged" in again.stdout


def test_ask_json_has_the_documented_shape(workdir):
    result = run("ask", "杭州有多少个产业集群？", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"question", "answer", "answerable", "citations", "retrieved", "timings_ms"} <= set(data)
    assert "124" in data["answer"] and data["answerable"] is True
    citation = data["citations"][0]
    assert {"n", "chunk_id", "source", "section", "text", "score"} <= set(citation)
    assert "杭州 124 个，年产值 3380 亿元" in citation["text"]
    assert citation["section"].startswith("一、产业集群现状 › （一）")
    assert len(data["retrieved"]) >= 5
    assert {"retrieve", "answer", "total"} <= set(data["timings_ms"])


def test_ask_prints_the_answer_and_numbered_citations_with_section_paths(workdir):
    result = run("ask", "杭州有多少个产业集群？", cwd=workdir)
    assert result.returncode == 0
    assert "124" in result.stdout
    assert "[1] 一、产业集群现状 › （一）我省产业集群发展回顾 › 1、产业集群的形成与分布" in result.stdout


def test_persist_flag_and_environment_choose_the_index(workdir, tmp_path):
    missing = run("ask", "杭州有多少个产业集群？", "--persist", str(tmp_path / "none"), cwd=workdir)
    assert missing.returncode == 2
    env_missing = run("ask", "杭州？", cwd=workdir, env={"ASSISTANT_PERSIST_DIR": str(tmp_path / "none")})
    assert env_missing.returncode == 2


@pytest.mark.parametrize(
    "args",
    [
        ("ask", ""),
        ("ask", "   "),
        ("ask", "杭州", "--history", "not json"),
        ("ask", "杭州", "--history", "[" * 3000 + "]" * 3000),  # nested past Python's recursion limit
        ("ask",),
        ("nonsense",),
        ("eval", "--set", "/no/such/file.jsonl"),
        ("index", "--corpus", "/no/such/dir"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(workdir, args):
    result = run(*args, cwd=workdir)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error:")


def test_eval_prints_metrics_and_items_as_json(workdir, tmp_path):
    items = [
        {"id": "1", "question": "杭州有多少个产业集群？", "answerable": True, "must_include": ["124个"], "evidence": ["杭州 124 个"]},
        {"id": "2", "question": "江苏省有多少个产业集群？", "answerable": False},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items), encoding="utf-8")
    result = run("eval", "--set", str(path), "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    metrics = data["metrics"]
    for key in ("n", "answer_accuracy", "citation_accuracy", "hit_at_1", "hit_at_5", "mrr", "refusal_accuracy"):
        assert key in metrics
    assert metrics["n"] == 2
    assert set(metrics["latency_ms"]) == {"p50", "p95"} and set(metrics["answer_chars"]) == {"median", "max"}
    assert [i["id"] for i in data["items"]] == ["1", "2"]
    assert data["items"][0]["correct"] is True


def test_the_console_script_answers_and_fails_in_one_line(workdir):
    """The installed `assistant` executable itself, as a newcomer runs it."""
    answered = subprocess.run(
        [EXECUTABLE, "ask", "杭州有多少个产业集群？", "--json"], capture_output=True, text=True, timeout=600, cwd=workdir,
        env=environment(),
    )
    assert answered.returncode == 0, answered.stderr
    assert "124" in json.loads(answered.stdout)["answer"]
    failed = subprocess.run(
        [EXECUTABLE, "ask", "杭州", "--history", "not json"], capture_output=True, text=True, timeout=600, cwd=workdir
    )
    assert failed.returncode == 2 and failed.stderr.startswith("error:") and failed.stderr.count("\n") == 1


def test_info_names_the_index_embedding_and_mode(workdir):
    result = run("info", cwd=workdir)
    assert result.returncode == 0
    assert "hashing" in result.stdout and "extractive" in result.stdout and "1 documents" in result.stdout


def test_eval_skips_a_bad_row_by_line_and_runs_the_rest(workdir, tmp_path):
    items = [
        {"id": "1", "question": "杭州有多少个产业集群？", "answerable": True, "must_include": ["124"]},
        {"id": "2", "question": "长" * 3000, "answerable": True},
        {"id": "1", "question": "宁波有多少个产业集群？", "answerable": True},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items), encoding="utf-8")
    result = run("eval", "--set", str(path), "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert [i["id"] for i in json.loads(result.stdout)["items"]] == ["1"]
    assert f"skipped {path}: line 2: question: too long" in result.stderr
    assert f"skipped {path}: line 3: id: '1' is already used on line 1" in result.stderr
