"""Scale and speed: build time, peak memory and warm query latency at 1×, 10× and 100× the
report, an incremental update, and this project against a naive LangChain RAG baseline.

    .venv/bin/python benchmarks/performance.py [--scales 1,10,100] [--variants copies,perturbed]
                                               [--queries 80] [--out benchmarks/results]
                                               [--embedding e5|hashing] [--model index/models/NAME]

With --model, the trained model folder is copied into every index, so queries run the whole
learned path (its training is timed by benchmarks/speed.py, not here).

Each build and each query run is a separate child process, so its peak memory (ru_maxrss) is
its own and every query run opens the index cold, then answers one warm-up question before
the timed ones. Corpora are generated in a temporary folder (benchmarks/corpora.py). Writes
results.json, scaling.png and results.md (the README table) into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVAL_SET = ROOT / "evals" / "report_qa.jsonl"


def _settings(corpus: Path, persist: Path):
    from assistant.settings import Settings

    return Settings(corpus_dir=corpus, persist_dir=persist, data_dir=persist.parent / "data",
                    embedding=os.environ.get("BENCH_EMBEDDING", "e5"))


def _install_model(persist: Path) -> None:
    """The trained model named by BENCH_MODEL, as `assistant tune` would leave it."""
    from assistant.index.ranking import model_folder, switch_model

    source = os.environ.get("BENCH_MODEL")
    if source:
        target = model_folder(persist, Path(source).name)
        shutil.copytree(source, target, dirs_exist_ok=True)
        switch_model(persist, target)


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 2)


# --- child processes: each prints one JSON line ---


def child_build(corpus: Path, persist: Path) -> dict:
    from assistant.index.build import build_index

    settings = _settings(corpus, persist)
    started, cpu = time.perf_counter(), _cpu_s()
    manifest = build_index(settings).manifest
    result = {"build_s": round(time.perf_counter() - started, 2), "build_cpu_s": round(_cpu_s() - cpu, 2),
              "chunks": manifest.chunks, "documents": len(manifest.documents)}
    # an update: one file changed, the rest reused
    changed = sorted(corpus.iterdir())[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n本次修订补充了一段说明。\n", encoding="utf-8")
    started = time.perf_counter()
    update = build_index(settings).manifest
    result["update_s"] = round(time.perf_counter() - started, 2)
    result["update_was_incremental"] = update.updated_chunks > 0
    result["build_peak_mb"] = _peak_mb()
    _install_model(persist)
    return result


def child_query(corpus: Path, persist: Path, queries: int) -> dict:
    from assistant.answer.chain import Assistant
    from assistant.evaluation.evaluate import load_eval_set

    items = load_eval_set(EVAL_SET).items[:queries]
    started = time.perf_counter()
    assistant = Assistant(_settings(corpus, persist))
    open_s = time.perf_counter() - started
    assistant.ask(items[0].question)  # warm-up
    latencies = []
    for item in items:
        started = time.perf_counter()
        assistant.ask(item.question, history=item.history)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"open_s": round(open_s, 2), "p50_ms": _percentile(latencies, 0.5), "p95_ms": _percentile(latencies, 0.95),
            "queries": len(latencies), "query_peak_mb": _peak_mb()}


def child_compare(work: Path) -> dict:
    """The project and the naive baseline on the same report and the same eval set."""
    from assistant.answer.chain import Assistant
    from assistant.evaluation.evaluate import load_eval_set, score_item, summarise
    from assistant.index.build import build_index
    from benchmarks.baseline import NaiveRag
    from benchmarks.corpora import make_corpus

    corpus = make_corpus(work / "corpus", 1, perturbed=False)
    settings = _settings(corpus, work / "index")
    build_index(settings)
    _install_model(settings.persist_dir)
    systems = {"project": Assistant(settings), "naive": NaiveRag(corpus, work / "naive")}
    items = load_eval_set(EVAL_SET).items
    metrics = {}
    for name, system in systems.items():
        system.ask(items[0].question)  # warm-up
        results = []
        for item in items:
            started = time.perf_counter()
            answer = system.ask(item.question, history=item.history)
            answer.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 2)
            results.append(score_item(item, answer))
        metrics[name] = summarise(results).model_dump()
    return metrics


# --- the parent: run the children, summarise, plot ---


def _child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ratios(metrics: dict) -> dict:
    project, naive = metrics["project"], metrics["naive"]

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 2) if b else None

    return {
        "answer_accuracy": ratio(project["answer_accuracy"], naive["answer_accuracy"]),
        "citation_accuracy": ratio(project["citation_accuracy"], naive["citation_accuracy"]),
        "latency_p50": ratio(project["latency_ms"]["p50"], naive["latency_ms"]["p50"]),
        "answer_chars_median": ratio(project["answer_chars"]["median"], naive["answer_chars"]["median"]),
    }


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for variant, marker in (("copies", "o"), ("perturbed", "s")):
        mine = sorted((r for r in rows if r["variant"] == variant), key=lambda r: r["chunks"])
        if not mine:
            continue
        chunks = [r["chunks"] for r in mine]
        left.plot(chunks, [r["build_s"] for r in mine], marker=marker, label=f"full build ({variant})")
        left.plot(chunks, [r["update_s"] for r in mine], marker=marker, linestyle=":", label=f"update ({variant})")
        right.plot(chunks, [r["p50_ms"] for r in mine], marker=marker, label=f"p50 ({variant})")
        right.plot(chunks, [r["p95_ms"] for r in mine], marker=marker, linestyle="--", label=f"p95 ({variant})")
    base = min(rows, key=lambda r: r["chunks"])
    span = [base["chunks"], max(r["chunks"] for r in rows)]
    right.plot(span, [base["p50_ms"], base["p50_ms"] * span[1] / span[0]], color="grey", linestyle=":", label="linear growth")
    for ax, title, unit in ((left, "index build", "seconds"), (right, "warm query latency", "ms")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks (1×, 10×, 100× the report)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _markdown(results: dict) -> str:
    lines = [
        f"Measured {results['measured_at']} on {results['machine']}.",
        "",
        "| corpus | chunks | full build (wall / CPU) | update one file | build peak RSS | open | query p50 | query p95 | query peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results["scaling"]:
        lines.append(
            f"| {r['scale']}× {r['variant']} | {r['chunks']} | {r['build_s']} s / {r['build_cpu_s']} s | "
            f"{r['update_s']} s | {r['build_peak_mb']} MB | {r['open_s']} s | {r['p50_ms']} ms | {r['p95_ms']} ms | "
            f"{r['query_peak_mb']} MB |"
        )
    if "comparison" in results:
        p, n, q = results["comparison"]["project"], results["comparison"]["naive"], results["comparison"]["ratios"]
        lines += [
            "",
            f"Same run, 1× report, all {p['n']} items of `evals/report_qa.jsonl`, scored by `assistant.evaluation.evaluate`:",
            "",
            "| system | answer accuracy | citation accuracy | refusal accuracy | latency p50 / p95 | median answer length |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, m in (("this project", p), ("naive LangChain RAG", n)):
            lines.append(
                f"| {name} | {m['answer_accuracy']} | {m['citation_accuracy']} | {m['refusal_accuracy']} | "
                f"{m['latency_ms']['p50']} / {m['latency_ms']['p95']} ms | {m['answer_chars']['median']:.0f} chars |"
            )
        lines.append(
            f"| ratio (project / naive) | {q['answer_accuracy']}× | {q['citation_accuracy']}× | | "
            f"{q['latency_p50']}× | {q['answer_chars_median']}× |"
        )
    return "\n".join(lines) + "\n"


def _save(results: dict, out: Path) -> None:
    """Written after every measurement, so an interrupted run keeps what it measured."""
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "results.md").write_text(_markdown(results), encoding="utf-8")
    if results["scaling"]:
        _plot(results["scaling"], out / "scaling.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--variants", default="copies,perturbed")
    parser.add_argument("--queries", type=int, default=80, help="timed eval questions per scale")
    parser.add_argument("--no-compare", action="store_true", help="skip the baseline comparison")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--embedding", default="e5", choices=["e5", "hashing"])
    parser.add_argument("--model", type=Path, help="a trained model folder (index/models/NAME) to answer with")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["BENCH_EMBEDDING"] = args.embedding  # (read by the children, which inherit it)
    if args.model:
        os.environ["BENCH_MODEL"] = str(args.model.resolve())
    if args.child:
        kind, *rest = args.child
        result = {
            "build": lambda: child_build(Path(rest[0]), Path(rest[1])),
            "query": lambda: child_query(Path(rest[0]), Path(rest[1]), int(rest[2])),
            "compare": lambda: child_compare(Path(rest[0])),
        }[kind]()
        print(json.dumps(result))
        return

    from benchmarks.corpora import make_corpus

    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start",
        "embedding": args.embedding, "model": args.model.name if args.model else None,
        "scaling": [],
    }
    work = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    try:
        if not args.no_compare:
            metrics = _child("compare", str(work / "compare"))
            results["comparison"] = {**metrics, "ratios": _ratios(metrics)}
            print(json.dumps(results["comparison"]["ratios"]), file=sys.stderr)
            _save(results, args.out)
        for variant in args.variants.split(","):
            for scale in (int(s) for s in args.scales.split(",")):
                folder = work / f"{variant}-{scale}"
                corpus = make_corpus(folder / "corpus", scale, perturbed=variant == "perturbed")
                row = {"scale": scale, "variant": variant, **_child("build", str(corpus), str(folder / "index"))}
                row.update(_child("query", str(corpus), str(folder / "index"), str(args.queries)))
                results["scaling"].append(row)
                print(json.dumps(row), file=sys.stderr)
                _save(results, args.out)
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["machine"] += f", {os.getloadavg()[0]:.1f} at end"
    _save(results, args.out)
    print(_markdown(results))


if __name__ == "__main__":
    main()
