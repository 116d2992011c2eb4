"""The files a trainer opens after a run (results.csv, metrics.json, report.html) and the run store."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from support import cli_runner

from assistant.errors import UserError
from assistant.evaluation import keep, runs
from assistant.evaluation.comparison import compare, comparison_text
from conftest import make_settings
from support.run_factory import MIXED, save_run


@pytest.fixture
def folder(tmp_path):
    """A run written with `--out`: the copy holds the same files as the kept run."""
    settings = make_settings(tmp_path, tmp_path / "corpus")
    kept = save_run(settings, "20250101-000000-aaaa", MIXED, also=tmp_path / "out")
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    return tmp_path / "out"


def test_results_csv_has_a_bom_and_one_row_per_item_that_parses_back(folder):
    raw = (folder / "results.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == ["a", "b", "c", "d"]
    a = rows[0]
    assert a["question"] == "杭州有多少个<script>alert(1)</script>产业集群？"
    assert a["correct"] == "false" and a["missing"] == "3380亿元"
    assert a["cited_sections"] == "[1] 一、总体情况 › （一）杭州"
    assert a["evidence_rank"] == "2" and a["latency_ms"] == "10.0"
    assert a["reference_answer"].startswith("杭州有 124 个")
    assert rows[1]["correct"] == "true" and rows[1]["evidence_rank"] == ""
    # a cell a spreadsheet would run as a formula is kept as text
    assert rows[2]["question"] == "'=HYPERLINK(\"http://x\")" and rows[2]["answer"] == "'=1+1"


def test_metrics_json_holds_the_run_metrics_and_accuracy_by_category(folder):
    data = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert data["run"]["id"] == "20250101-000000-aaaa"
    assert data["metrics"]["n"] == 4
    assert data["metrics"]["answer_accuracy"] == pytest.approx(1 / 3, abs=1e-3)
    assert data["metrics"]["refusal_accuracy"] == 1.0
    assert data["by_category"]["fact"] == {"n": 1, "correct": 0, "accuracy": 0.0}
    assert data["by_category"]["multiturn"]["accuracy"] == 1.0
    assert data["llm_judged"] is None


def test_report_html_is_self_contained_escaped_and_lists_failures_first(folder):
    html = (folder / "report.html").read_text(encoding="utf-8")
    links = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", html, flags=re.I)
    links += re.findall(r"""url\(\s*["']?([^"')]*)""", html, flags=re.I)
    assert links and all(link.startswith("#") for link in links)  # the SVGs' own #ids, nothing outside
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;粗体&lt;/b&gt;" in html and "<b>粗体</b>" not in html
    assert html.count("<svg") == 2  # accuracy by category, latency distribution
    order = re.findall(r'<section class="item (pass|fail)"[^>]*data-id="([^"]+)"', html)
    assert order == [("fail", "a"), ("fail", "c"), ("pass", "b"), ("pass", "d")]
    assert '<mark class="missing">3380亿元</mark>' in html  # missing string, in the missing list
    assert "年产值<mark>3380亿元</mark>" in html  # and marked in the reference answer
    assert "<mark>杭州 124 个</mark>" in html  # evidence marked in the cited passage
    assert "LLM-judged metrics" in html and "absent" in html


RUN_FILES = {"run.json", "meta.json", "items.jsonl", "rows.jsonl", "results.csv", "metrics.json", "report.html"}


def test_a_saved_run_is_listed_and_loads_by_id_or_folder(tmp_path):
    settings = make_settings(tmp_path, tmp_path / "corpus")
    save_run(settings, "20250101-000000-aaaa", MIXED)
    folder = save_run(settings, "20250102-000000-bbbb", {"a": MIXED["a"]})
    assert folder == settings.data_dir / "eval_runs" / "20250102-000000-bbbb"
    assert {p.name for p in folder.iterdir()} == RUN_FILES
    assert [m.id for m in runs.list_runs(settings)] == ["20250102-000000-bbbb", "20250101-000000-aaaa"]
    older = runs.load(settings, "20250101-000000-aaaa")
    assert older.meta.id == "20250101-000000-aaaa" and older.summary.metrics.n == 4
    assert [item.id for item in older.items()] == [row.id for row in older.rows()] == ["a", "b", "c", "d"]
    assert [older.item(row.at).answer for row in older.rows()] == [answer.answer for answer in MIXED.values()]
    assert [item.id for item in runs.load(settings, str(folder)).items()] == ["a"]
    assert sorted(p.name for p in (settings.data_dir / "eval_runs").iterdir()) == [
        "20250101-000000-aaaa",
        "20250102-000000-bbbb",
    ]  # no staging folders left behind


def test_a_failed_save_leaves_no_run_behind(tmp_path, monkeypatch):
    settings = make_settings(tmp_path, tmp_path / "corpus")
    write = Path.write_text

    def disk_full_at_the_report(path, data, encoding="utf-8"):
        if path.name == "report.html":
            raise OSError(28, "No space left on device")
        return write(path, data, encoding)

    monkeypatch.setattr(Path, "write_text", disk_full_at_the_report)
    with pytest.raises(UserError, match="No space left"):
        save_run(settings, "20250101-000000-aaaa", MIXED)
    assert list((settings.data_dir / "eval_runs").iterdir()) == []
    assert runs.list_runs(settings) == []


def test_damaged_or_unknown_runs_are_clear_errors_and_skipped_in_the_list(tmp_path):
    settings = make_settings(tmp_path, tmp_path / "corpus")
    save_run(settings, "20250101-000000-aaaa", MIXED)
    damaged = settings.data_dir / "eval_runs" / "20250103-000000-cccc"
    damaged.mkdir()
    (damaged / "run.json").write_text("{not json", encoding="utf-8")
    assert [m.id for m in runs.list_runs(settings)] == ["20250101-000000-aaaa"]
    with pytest.raises(UserError, match="damaged"):
        runs.load(settings, "20250103-000000-cccc")
    with pytest.raises(UserError, match="no evaluation run"):
        runs.load(settings, "../20250101-000000-aaaa")


def test_eval_out_writes_the_three_files_and_keeps_the_run(report_settings, report_index, tmp_path):
    """The real CLI on the real report: a CSV set with one bad row, then `eval compare`."""
    eval_set = tmp_path / "set.csv"
    eval_set.write_text(
        "id,question,answerable,must_include,evidence,category\n"
        "1,杭州有多少个产业集群？,true,124个,杭州 124 个,fact\n"
        "2,江苏省有多少个产业集群？,false,,,unanswerable\n"
        "3,问,perhaps,,,fact\n",
        encoding="utf-8",
    )
    env = {
        "ASSISTANT_PERSIST_DIR": str(report_settings.persist_dir),
        "ASSISTANT_EMBEDDING": "hashing",
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
    }
    out = tmp_path / "report"
    result = cli_runner.run("eval", "--set", str(eval_set), "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "line 4: answerable" in result.stderr
    assert {"results.csv", "metrics.json", "report.html", "run.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["metrics"]["n"] == 2
    [kept] = (tmp_path / "data" / "eval_runs").iterdir()
    assert f"run {kept.name} kept in" in result.stderr

    compared = cli_runner.run("eval", "compare", kept.name, str(out), env=env)
    assert compared.returncode == 0, compared.stderr
    assert "answer_accuracy" in compared.stdout and "broken (0)" in compared.stdout


def test_listing_runs_reads_each_runs_small_meta_file_never_its_items(tmp_path):
    settings = make_settings(tmp_path, tmp_path / "corpus")
    ids = [f"20250101-0000{i:02d}-aaaa" for i in range(50)]
    for run_id in ids:
        save_run(settings, run_id, MIXED)
    for run_id in ids:  # a listing that parsed run.json would now leave every run out
        (settings.data_dir / "eval_runs" / run_id / "run.json").write_text("{not json", encoding="utf-8")
    assert [m.id for m in runs.list_runs(settings)] == sorted(ids, reverse=True)


def test_a_run_kept_before_meta_files_is_listed_and_given_one(tmp_path):
    settings = make_settings(tmp_path, tmp_path / "corpus")
    folder = save_run(settings, "20250101-000000-aaaa", MIXED)
    (folder / "meta.json").unlink()
    assert [m.id for m in runs.list_runs(settings)] == ["20250101-000000-aaaa"]
    assert (folder / "meta.json").is_file()


def test_a_run_kept_in_the_old_layout_is_upgraded_once_and_reads_as_before(tmp_path):
    """Runs kept before items.jsonl held every item in run.json; they open, list and compare."""
    from assistant.evaluation.evaluate import EvalRun, score_item, summarise
    from support.run_factory import ITEMS

    settings = make_settings(tmp_path, tmp_path / "corpus")
    results = [score_item(ITEMS[key], MIXED[key]) for key in ITEMS]
    meta = runs.RunMeta(id="20240101-000000-0000", created_at="2024-01-01T00:00:00", eval_set="old.jsonl", mode="extractive")
    old = runs.OldRun(meta=meta, run=EvalRun(metrics=summarise(results), items=results), eval_items=list(ITEMS.values()))
    folder = settings.data_dir / "eval_runs" / meta.id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(old.model_dump_json(indent=2), encoding="utf-8")
    assert [m.id for m in runs.list_runs(settings)] == [meta.id]
    kept = runs.load(settings, meta.id)
    assert kept.summary.metrics == old.run.metrics and kept.summary.failures == 2
    assert [item.model_dump(exclude={"evidence"}) for item in kept.items()] == [r.model_dump() for r in results]
    assert next(kept.items()).evidence == ["杭州 124 个"]
    assert json.loads((folder / "run.json").read_text(encoding="utf-8"))["format"] == 2  # upgraded in place
    newer = save_run(settings, "20250101-000000-aaaa", MIXED)
    assert "broken (0)" in comparison_text(compare(kept, runs.load(settings, str(newer))))


def test_a_staging_folder_left_by_a_killed_run_is_removed_by_the_next_run_and_a_live_one_is_not(tmp_path):
    import os

    settings = make_settings(tmp_path, tmp_path / "corpus")
    root = settings.data_dir / "eval_runs"
    killed = root / ".20250101-000000-dead.0badf00d.tmp"
    killed.mkdir(parents=True)
    (killed / "items.jsonl").write_bytes(b"{}\n" * 1000)
    meta = runs.RunMeta(id="20250101-000000-0001", created_at="2025-01-01T00:00:00", eval_set="s.jsonl", mode="extractive")
    with keep.RunWriter(settings, meta) as live:
        for folder in (killed, live.staging):
            os.utime(folder, (0, 0))  # both look old; only the lock tells them apart
        save_run(settings, "20250101-000000-aaaa", MIXED)
        assert not killed.exists() and live.staging.is_dir()
        live.finish()
    assert sorted(p.name for p in root.iterdir()) == ["20250101-000000-0001", "20250101-000000-aaaa"]


@pytest.mark.parametrize("umask, file_mode, folder_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_run_files_take_the_umasks_mode_like_the_feedback_store_and_the_index(tmp_path, umask, file_mode, folder_mode):
    """One policy for every file the assistant writes: the operator's umask decides."""
    import os
    import stat

    from assistant.evaluation.feedback import FeedbackStore
    from support.run_factory import answer

    settings = make_settings(tmp_path, tmp_path / "corpus")
    before = os.umask(umask)
    try:
        kept = save_run(settings, "20250101-000000-aaaa", MIXED, also=tmp_path / "out")
        FeedbackStore(settings.data_dir).rate(answer("杭州 124 个。"), "up")
        page = tmp_path / "compare.html"
        result = cli_runner.run("eval", "compare", str(kept), str(tmp_path / "out"), "--html", str(page))
        assert result.returncode == 0, result.stderr
    finally:
        os.umask(before)
    files = [*kept.iterdir(), *(tmp_path / "out").iterdir(), page, settings.data_dir / "feedback.sqlite3"]
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {f.name: oct(file_mode) for f in files}
    folders = [kept, kept.parent, tmp_path / "out"]
    assert {str(f): oct(stat.S_IMODE(f.stat().st_mode)) for f in folders} == {str(f): oct(folder_mode) for f in folders}
