"""A 50,000-item evaluation run and the 评测 tab with it kept (issue 16, item 6), end to end:

    .venv/bin/python benchmarks/eval_scale.py [--items 50000] [--runs 50] [--answerer cached|real]

1. `assistant eval --set FILE` on N items (evals/report_qa.jsonl repeated with fresh ids) as a
   real process on a hashing index of the report: wall time, peak RSS, the run folder's size
   and report.html's. The default answerer is the real assistant with each distinct question
   answered once and remembered (answers, passages and sizes are real; 50,000 real answers
   would time the answerer, not the evaluation); `--answerer real` answers every item.
2. The data folder then keeps `--runs` runs: that one and copies of a 20-item run.
3. `assistant serve` on that folder, and over real HTTP: a page load (the page, its config and
   the 评测 tab's load events, listing the runs), then opening the N-item run in the tab.
   Time of each, and how much the server's peak RSS grew (VmHWM before and after).

Targets (the issue's "done when"): a page load under 1 s and 300 MB with one N-item run kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ASSISTANT = str(Path(sys.executable).parent / "assistant")
CACHED_ANSWERS = """
import sys
import assistant.app.cli as cli

opened = cli.open_assistant

def open_remembering(settings):
    assistant = opened(settings)
    ask, answers = assistant.ask, {}

    def remembered(question, history=None, engine=None):
        key = (question, tuple(tuple(turn) for turn in history or ()))
        if key not in answers:
            answers[key] = ask(question, history=history, engine=engine)
        return answers[key]

    assistant.ask = remembered
    return assistant

cli.open_assistant = open_remembering
cli.main(sys.argv[1:])
"""


def write_set(path: Path, items: int) -> None:
    source = [json.loads(line) for line in (ROOT / "evals" / "report_qa.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(items):
            item = dict(source[i % len(source)], id=f"{source[i % len(source)]['id']}-{i}")
            out.write(json.dumps(item, ensure_ascii=False) + "\n")


def measured(args: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (MB) of one process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(args, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        done = subprocess.CompletedProcess(args, process.returncode, out.read(), err.read())
    if done.returncode != 0:
        sys.exit(f"{args[:3]} failed: {done.stderr.strip().splitlines()[-1:]}")
    return wall, usage.ru_maxrss / 1024, done


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def copy_run(template: Path, root: Path, run_id: str) -> None:
    """A copy of a kept run under another id (only the small files name their id)."""
    target = root / run_id
    shutil.copytree(template, target)
    for name in ("meta.json", "run.json"):
        path = target / name
        if path.is_file() and path.stat().st_size < 10_000_000:
            path.write_text(path.read_text(encoding="utf-8").replace(template.name, run_id), encoding="utf-8")


def server_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


SESSION = "eval-scale-benchmark"  # one browser session: a run is opened from the list it was shown


def call(http: httpx.Client, endpoint: str, data: list) -> str:
    """One event through Gradio's call API; the event stream it answered with."""
    started = http.post(f"/gradio_api/call/{endpoint}", json={"data": data, "session_hash": SESSION})
    started.raise_for_status()
    return http.get(f"/gradio_api/call/{endpoint}/{started.json()['event_id']}").text


def _outputs(stream: str) -> list:
    """The outputs of a call's `complete` event."""
    event = stream.split("event: complete\n", 1)[1]
    return json.loads(event.split("data: ", 1)[1].splitlines()[0])


def page_load(http: httpx.Client) -> str:
    """What a browser's page load asks of the server: the page, its config, the load events."""
    for path in ("/", "/config"):
        http.get(path).raise_for_status()
    listed = call(http, "refresh_runs", [])
    call(http, "load_feedback", [])
    return listed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--answerer", choices=["cached", "real"], default="cached")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "corpus", work / "corpus")
        (work / "evals").mkdir()
        (work / "no-training").mkdir()
        env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(work / "corpus"), "ASSISTANT_PERSIST_DIR": str(work / "index"),
               "ASSISTANT_DATA_DIR": str(work / "data"), "ASSISTANT_EVALS_DIR": str(work / "evals"),
               "ASSISTANT_TRAIN_DIR": str(work / "no-training"), "ASSISTANT_EMBEDDING": "hashing"}
        subprocess.run([ASSISTANT, "index"], env=env, check=True, capture_output=True)
        write_set(work / "small.jsonl", 20)
        write_set(work / "big.jsonl", options.items)
        evaluate = [ASSISTANT] if options.answerer == "real" else [sys.executable, "-c", CACHED_ANSWERS]
        measured([*evaluate, "eval", "--set", str(work / "small.jsonl")], env)
        wall, peak, done = measured([*evaluate, "eval", "--set", str(work / "big.jsonl")], env)
        root = work / "data" / "eval_runs"
        big = max(root.iterdir(), key=folder_mb)
        small = min(root.iterdir(), key=folder_mb)
        print(f"eval of {options.items} items ({options.answerer} answers): {wall:.1f} s, peak RSS {peak:.0f} MB, "
              f"run folder {folder_mb(big):.0f} MB, report.html {(big / 'report.html').stat().st_size / 1e6:.1f} MB")
        for i in range(options.runs - 2):
            copy_run(small, root, f"20200101-0000{i // 60:02d}-{i % 60:04x}")

        port = _free_port()
        server = subprocess.Popen([ASSISTANT, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as http:
                _wait(http, server)
                page_load(http)  # the first load warms Gradio's page; measure the next ones
                before = server_kb(server.pid, "VmHWM")
                rest = server_kb(server.pid, "VmRSS")
                times = []
                for _ in range(3):
                    started = time.perf_counter()
                    listed = page_load(http)
                    times.append(time.perf_counter() - started)
                assert len(_outputs(listed)[0]["choices"]) == options.runs, "not every run was listed"
                grown = (server_kb(server.pid, "VmHWM") - before) / 1024
                print(f"page load with {options.runs} runs kept: {min(times):.2f} s (of {[round(t, 2) for t in times]}), "
                      f"server peak RSS +{grown:.0f} MB (server at rest {rest / 1024:.0f} MB)")
                before = server_kb(server.pid, "VmHWM")
                started = time.perf_counter()
                shown = call(http, "open_run", [big.name])
                opened = time.perf_counter() - started
                grown = (server_kb(server.pid, "VmHWM") - before) / 1024
                assert "event: complete" in shown, shown[-300:]
                print(f"opening the {options.items}-item run in the 评测 tab: {opened:.2f} s, server peak RSS +{grown:.0f} MB, "
                      f"response {len(shown) / 1e6:.1f} MB")
        finally:
            server.terminate()
            server.wait(30)


def _free_port() -> int:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def _wait(http: httpx.Client, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 600
    while True:
        assert server.poll() is None, server.stdout.read()
        try:
            http.get("/api/health", timeout=5)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.3)


if __name__ == "__main__":
    main()
