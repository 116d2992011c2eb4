"""Answer quality per configuration, on one index, in one process.

    .venv/bin/python benchmarks/quality.py [--set evals/report_qa.jsonl] [--markdown]

Rows: BM25 only, the built-in embedding only, hybrid, and hybrid with each query-side
improvement switched off in turn (to show what each one adds). The switches are applied
here by replacing one function for the run; the product has no such flags.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.answer.chain import Assistant  # noqa: E402
from assistant.evaluation.evaluate import load_eval_set, run_eval  # noqa: E402
from assistant.index.build import build_index  # noqa: E402
from assistant.index.loaded import LoadedIndex  # noqa: E402
from assistant.settings import Settings  # noqa: E402


@contextmanager
def nothing():
    yield


def without(target: str, replacement):
    return mock.patch(target, replacement)


CONFIGS = [
    ("BM25 only", {"bm25_weight": 1.0}, nothing),
    ("built-in embedding only", {"bm25_weight": 0.0}, nothing),
    ("hybrid (default)", {}, nothing),
    ("hybrid − paraphrase aliases", {}, lambda: without("assistant.ingest.normalize.apply_aliases", lambda t: t)),
    ("hybrid − numerals & traditional", {}, lambda: mock.patch.multiple(
        "assistant.ingest.normalize", convert_numerals=lambda t: t, to_simplified=lambda t: t)),
    ("hybrid − follow-up condensing", {}, lambda: without("assistant.answer.chain.condense", lambda q, h, t: q)),
]

COLUMNS = ["answer_accuracy", "citation_accuracy", "hit_at_1", "hit_at_5", "mrr", "refusal_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default=str(ROOT / "evals" / "report_qa.jsonl"))
    args = parser.parse_args()
    items = load_eval_set(Path(args.set)).items
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        settings = Settings(corpus_dir=corpus, persist_dir=Path(tmp) / "index", embedding="hashing")
        build_index(settings)
        index = LoadedIndex.open(settings)
        print(f"| configuration | {' | '.join(COLUMNS)} | p50 ms | p95 ms | median chars | max chars |")
        print("|" + "---|" * (len(COLUMNS) + 5))
        for name, overrides, patch in CONFIGS:
            assistant = Assistant(settings.model_copy(update=overrides), index)
            with patch():
                assistant.ask("杭州有多少个产业集群？")  # warm up
                m = run_eval(assistant.ask, items).metrics
            cells = [f"{getattr(m, c):.3f}" for c in COLUMNS]
            print(
                f"| {name} | {' | '.join(cells)} | {m.latency_ms['p50']:.1f} | {m.latency_ms['p95']:.1f} "
                f"| {m.answer_chars['median']:.0f} | {m.answer_chars['max']:.0f} |",
                flush=True,
            )
    print(f"\n{len(items)} items from {args.set}; index: built-in hashing embedding, {index.manifest.chunks} chunks")


if __name__ == "__main__":
    main()
