"""Load on the HTTP API: N concurrent clients each asking M questions of `POST /api/ask`.

    .venv/bin/python benchmarks/load_api.py [--clients 20] [--questions 200] [--url URL]
        [--persist index] [--concurrency 4] [--max-seconds 1800] [--json] [--rebuild-while-serving]

Without --url it starts `assistant serve` on a free 127.0.0.1 port over the --persist index
(built with `assistant index` beforehand) and stops it afterwards. Questions are the evaluation
set's, with their history, each client starting at a different item. Every client keeps one
keep-alive connection; a request counts as an error unless it returns 200 with an answer.
The run is bounded: each request times out, and clients stop after --max-seconds.

--rebuild-while-serving runs `assistant index --rebuild` over the same index folder, one after
another, for as long as the clients ask (the server answers from the build it opened; the
rebuilds' prunes must leave that build alone); it reports how many rebuilds finished.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluation.evaluate import load_eval_set  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(persist: Path, concurrency: int | None):
    """`assistant serve` in its own process, as deployed; yields its URL once /api/health answers."""
    port = _free_port()
    env = {**os.environ, "ASSISTANT_PERSIST_DIR": str(persist)}
    if concurrency:
        env["ASSISTANT_CONCURRENCY"] = str(concurrency)
    command = [str(Path(sys.executable).parent / "assistant"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            if server.poll() is not None:
                sys.exit(f"the server exited: {server.stderr.read().strip()}")
            try:
                if httpx.get(f"{url}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit("the server did not start within 600 s")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run_load(url: str, payloads: list[dict], clients: int, questions: int, max_seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + max_seconds

    def client(number: int) -> None:
        with httpx.Client(base_url=url, timeout=httpx.Timeout(120, connect=10)) as http:
            for i in range(questions):
                if time.monotonic() > stop_at:
                    return
                payload = payloads[(number * 7 + i) % len(payloads)]
                started = time.perf_counter()
                try:
                    response = http.post("/api/ask", json=payload)
                    ok = response.status_code == 200 and "answer" in response.json()
                    problem = None if ok else f"HTTP {response.status_code}: {response.text[:200]}"
                except (httpx.HTTPError, ValueError) as exc:
                    problem = f"{exc.__class__.__name__}: {exc}"
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if problem:
                        errors.append(problem)
                    else:
                        latencies.append(elapsed)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    done = len(latencies) + len(errors)
    return {
        "clients": clients,
        "questions_per_client": questions,
        "requests": done,
        "planned": clients * questions,
        "errors": len(errors),
        "first_errors": errors[:5],
        "seconds": round(seconds, 1),
        "requests_per_s": round(done / seconds, 1) if seconds else 0.0,
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1) if latencies else 0.0,
            "p95": round(percentile(latencies, 0.95), 1),
            "max": round(max(latencies, default=0.0), 1),
        },
    }


@contextmanager
def rebuilding(persist: Path, wanted: bool):
    """`assistant index --rebuild` of the served index, again and again, until the block ends."""
    counts: dict = {"done": 0, "failed": []}
    stop = threading.Event()

    def loop() -> None:
        command = [str(Path(sys.executable).parent / "assistant"), "index", "--rebuild"]
        while not stop.is_set():
            done = subprocess.run(command, env={**os.environ, "ASSISTANT_PERSIST_DIR": str(persist)},
                                  capture_output=True, text=True)
            if done.returncode == 0:
                counts["done"] += 1
            else:
                counts["failed"].append(done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"])

    worker = threading.Thread(target=loop, daemon=True)
    if wanted:
        worker.start()
    try:
        yield counts
    finally:
        stop.set()
        if wanted:
            worker.join(600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=200, help="questions each client asks")
    parser.add_argument("--url", help="a running server; default: start `assistant serve` here")
    parser.add_argument("--persist", type=Path, default=ROOT / "index")
    parser.add_argument("--concurrency", type=int, help="ASSISTANT_CONCURRENCY for the started server")
    parser.add_argument("--set", type=Path, default=ROOT / "evals" / "report_qa.jsonl")
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rebuild-while-serving", action="store_true")
    args = parser.parse_args()
    payloads = [
        {"question": item.question, "history": [list(turn) for turn in item.history]}
        for item in load_eval_set(args.set).items
    ]
    if args.url:
        result = run_load(args.url.rstrip("/"), payloads, args.clients, args.questions, args.max_seconds)
    else:
        with serve(args.persist, args.concurrency) as url, rebuilding(args.persist, args.rebuild_while_serving) as rebuilds:
            result = run_load(url, payloads, args.clients, args.questions, args.max_seconds)
        if args.rebuild_while_serving:
            result["rebuilds"] = rebuilds["done"]
            result["rebuild_failures"] = rebuilds["failed"]
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    latency = result["latency_ms"]
    print(
        f"{result['clients']} clients × {result['questions_per_client']} questions: "
        f"{result['requests']}/{result['planned']} requests in {result['seconds']} s "
        f"({result['requests_per_s']}/s), {result['errors']} errors; "
        f"latency p50 {latency['p50']} ms, p95 {latency['p95']} ms, max {latency['max']} ms"
    )
    for error in result["first_errors"]:
        print(f"  error: {error}")
    if args.rebuild_while_serving:
        print(f"meanwhile {result['rebuilds']} rebuilds finished, {len(result['rebuild_failures'])} failed")
        for failure in result["rebuild_failures"][:5]:
            print(f"  rebuild failed: {failure}")
    if result["errors"] or result["requests"] < result["planned"] or result.get("rebuild_failures"):
        sys.exit(1)


if __name__ == "__main__":
    main()
