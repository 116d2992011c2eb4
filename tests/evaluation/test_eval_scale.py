"""Big evaluation runs (issue 16, item 6): a run is written item by item as it is scored,
report.html is capped, the 评测 tab opens a run a page at a time, and a page load with 50 kept
runs (one of 50,000 items) reads none of their items.

The CLI runs are real (`assistant eval --set` in-process) on the report's assistant with each
distinct question answered once and remembered, so a 1,200-item set costs its writing, not
1,200 answers. Speed and memory targets are measured by benchmarks/eval_scale.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import tracemalloc
from pathlib import Path

import httpx
import pytest

from support import cli_runner
from conftest import ROOT
from support.live_server import running
from support.run_factory import MIXED, save_large_run, save_run

BIG = 1_200  # more than the report's cap (1,000) and the table's page (200)


class Remembering:
    """The report's assistant, answering each distinct question once (the answers are real)."""

    def __init__(self, assistant, settings, on_ask=None) -> None:
        self.assistant, self.settings, self.on_ask, self.answers = assistant, settings, on_ask, {}

    def __getattr__(self, name):
        return getattr(self.assistant, name)

    def ask(self, question, history=None, engine=None):
        if self.on_ask:
            self.on_ask()
        key = (question, tuple(tuple(turn) for turn in history or ()))
        if key not in self.answers:
            self.answers[key] = self.assistant.ask(question, history=history, engine=engine)
        return self.answers[key]


def write_set(path: Path, n: int) -> Path:
    source = [json.loads(line) for line in (ROOT / "evals" / "report_qa.jsonl").read_text(encoding="utf-8").splitlines()]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            out.write(json.dumps({**source[i % len(source)], "id": f"q{i}"}, ensure_ascii=False) + "\n")
    return path


def cli_eval(monkeypatch, report_assistant, settings, eval_set: Path, on_ask=None):
    import assistant.app.cli

    monkeypatch.setattr(assistant.app.cli, "open_assistant", lambda opened: Remembering(report_assistant, opened, on_ask))
    env = {"ASSISTANT_DATA_DIR": str(settings.data_dir), "ASSISTANT_PERSIST_DIR": str(settings.persist_dir),
           "ASSISTANT_EMBEDDING": "hashing"}
    result = cli_runner.run("eval", "--set", str(eval_set), env=env)
    assert result.returncode == 0, result.stderr
    [folder] = [p for p in (settings.data_dir / "eval_runs").iterdir() if not p.name.startswith(".")]
    return folder


@pytest.fixture(scope="module")
def big_run(report_settings, report_assistant, tmp_path_factory):
    """One CLI run of BIG items in its own data folder: (settings, run folder)."""
    root = tmp_path_factory.mktemp("big_run")
    settings = report_settings.model_copy(update={"data_dir": root / "data", "evals_dir": root / "evals"})
    with pytest.MonkeyPatch.context() as patch:
        return settings, cli_eval(patch, report_assistant, settings, write_set(root / "big.jsonl", BIG))


def test_each_item_is_on_disk_before_the_next_question_is_asked(report_settings, report_assistant, tmp_path, monkeypatch):
    settings = report_settings.model_copy(update={"data_dir": tmp_path / "data"})
    written: list[int] = []

    def count_items_on_disk():
        runs_dir = settings.data_dir / "eval_runs"
        found = [len(p.read_bytes().splitlines()) for p in runs_dir.glob("*/*.jsonl")] if runs_dir.is_dir() else []
        written.append(max(found, default=0))

    folder = cli_eval(monkeypatch, report_assistant, settings, write_set(tmp_path / "set.jsonl", 6), count_items_on_disk)
    assert written == [0, 1, 2, 3, 4, 5]  # the run held nothing back in memory
    assert len((folder / "items.jsonl").read_bytes().splitlines()) == 6


def test_report_html_is_capped_failures_first_and_the_csv_holds_every_item(big_run):
    _, folder = big_run
    rows = list(csv.DictReader(io.StringIO((folder / "results.csv").read_text(encoding="utf-8-sig"))))
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(BIG)]
    failed = sum(r["correct"] == "false" for r in rows)
    assert 0 < failed < 1000 < BIG
    html = (folder / "report.html").read_text(encoding="utf-8")
    shown = re.findall(r'<section class="item (pass|fail)"', html)
    assert len(shown) == 1000 and shown == ["fail"] * failed + ["pass"] * (1000 - failed)
    assert f"showing 1000 of {BIG} items" in html and "full results in results.csv" in html
    assert f"共 {BIG} 题，未通过 {failed} 题" in html  # the header counts the whole run
    assert json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["metrics"]["n"] == BIG


def _call(http: httpx.Client, endpoint: str, data: list, session: str) -> list:
    """One event through Gradio's call API, in one browser session; its outputs."""
    started = http.post(f"/gradio_api/call/{endpoint}", json={"data": data, "session_hash": session})
    assert started.status_code == 200, started.text
    stream = http.get(f"/gradio_api/call/{endpoint}/{started.json()['event_id']}").text
    assert "event: complete" in stream, stream[-500:]
    return json.loads(stream.split("event: complete\n", 1)[1].split("data: ", 1)[1].splitlines()[0])


def _table(outputs: list) -> list[list]:
    """The rows of the one Dataframe among an event's outputs."""
    [table] = [o for o in outputs if isinstance(o, dict) and isinstance(o.get("data"), list)]
    return table["data"]


def test_the_eval_tab_opens_a_big_run_a_page_at_a_time(big_run, report_assistant):
    settings, folder = big_run
    with running(settings, report_assistant) as url, httpx.Client(base_url=url, timeout=300) as http:
        _call(http, "refresh_runs", [], "pages")
        opened = _call(http, "open_run", [folder.name], "pages")
        rows = _table(opened)
        assert [row[0] for row in rows] == [f"q{i}" for i in range(200)]
        assert f"共 {BIG} 题" in json.dumps(opened, ensure_ascii=False)


def test_a_page_load_with_50_runs_one_of_50000_items_reads_no_items(report_settings, report_assistant, tmp_path):
    """The store is written by the store's own writer (nothing is asked); then every file that
    holds items is made garbage: a page load that read them would leave the run out."""
    settings = report_settings.model_copy(update={"data_dir": tmp_path / "data", "evals_dir": tmp_path / "evals"})
    big = save_large_run(settings, "20250201-000000-beef", 50_000)
    for i in range(49):
        save_run(settings, f"20250101-0000{i:02d}-aaaa", MIXED)
    for name in ("items.jsonl", "rows.jsonl", "run.json", "results.csv", "report.html"):
        (big / name).write_bytes(b"\xff not a run \x00" * 1000)
    with running(settings, report_assistant) as url, httpx.Client(base_url=url, timeout=300) as http:
        http.get("/").raise_for_status()  # Gradio builds the page once; a page load after that is measured
        tracemalloc.start()
        started = time.perf_counter()
        for path in ("/", "/config"):
            http.get(path).raise_for_status()
        listed = _call(http, "refresh_runs", [], "load")
        _call(http, "load_feedback", [], "load")
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(f"page load with 50 runs, one of 50,000 items: {seconds:.2f} s, {peak / 1e6:.1f} MB allocated at peak")
    choices = [value for _, value in listed[0]["choices"]]
    assert len(choices) == 50 and choices[0] == "20250201-000000-beef"
