"""The core speed targets, as a user meets them: whole `assistant` processes on a copy of corpus/.

    .venv/bin/python benchmarks/speed.py [--runs 3]

- `assistant index --rebuild` of the report with the built-in embedding (target ≤ 10 s);
- a cold `assistant ask` process, start to exit, no torch model configured (target ≤ 3 s);
- warm answer latency p50/p95 as `assistant eval` reports it over evals/report_qa.jsonl
  (target p50 ≤ 50 ms).
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
        shutil.copytree(ROOT / "corpus", Path(tmp) / "corpus")
        env = {
            **os.environ,
            "ASSISTANT_CORPUS_DIR": str(Path(tmp) / "corpus"),
            "ASSISTANT_PERSIST_DIR": str(Path(tmp) / "index"),
            "ASSISTANT_DATA_DIR": str(Path(tmp) / "data"),
            "ASSISTANT_EMBEDDING": "hashing",
        }
        index_s = [timed(["index", "--rebuild"], env)[0] for _ in range(runs)]
        ask_s = [timed(["ask", "杭州有多少个产业集群？"], env)[0] for _ in range(runs)]
        _, out = timed(["eval", "--set", str(ROOT / "evals" / "report_qa.jsonl"), "--json"], env)
        latency = json.loads(out)["metrics"]["latency_ms"]
    print(f"index --rebuild (report, hashing)  median {statistics.median(index_s):6.1f} s  runs {[round(s, 1) for s in index_s]}")
    print(f"cold ask process                   median {statistics.median(ask_s):6.1f} s  runs {[round(s, 1) for s in ask_s]}")
    print(f"warm answer latency (eval)         p50 {latency['p50']} ms  p95 {latency['p95']} ms")


if __name__ == "__main__":
    main()
