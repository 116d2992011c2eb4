"""5-fold cross-validation of `assistant tune` on the training sets, with the whole answering path.

    .venv/bin/python benchmarks/crossval.py [--group question|evidence|both] [--folds 5]

Each fold trains on four fifths of evals/train/ and answers the fifth it never saw, then scores
it as `assistant eval` does. Grouped by question, the held-out questions ask about facts that
other phrasings in training cover (how a new official's question meets a tuned model); grouped
by evidence sentence, every phrasing of a fact is held out together (facts never trained on).
Rows: the learned ranker and decliner (the product), the learned ranker with the grounding rules
deciding to decline, and the rules alone (retrieval still adapted).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.answer.chain import Assistant, corpus_scope  # noqa: E402
from assistant.answer.extractive import ExtractiveAnswerer  # noqa: E402
from assistant.evaluation.evaluate import load_eval_set, run_eval  # noqa: E402
from assistant.evaluation.sets import training_files  # noqa: E402
from assistant.index.build import build_index  # noqa: E402
from assistant.index.loaded import LoadedIndex  # noqa: E402
from assistant.learn.tune import tune  # noqa: E402
from assistant.settings import Settings  # noqa: E402

COLUMNS = ["answer_accuracy", "citation_accuracy", "hit_at_1", "hit_at_5", "refusal_accuracy"]


def folds_of(items, group: str, k: int) -> list[int]:
    if group == "question":
        return [i % k for i in range(len(items))]
    # every item whose first evidence string is the same falls in one fold
    key = lambda item: (item.evidence[0] if item.evidence else item.id)  # noqa: E731
    return [int(hashlib.sha256(key(item).encode()).hexdigest(), 16) % k for item in items]


def variants(index: LoadedIndex) -> dict[str, ExtractiveAnswerer]:
    scope = corpus_scope(index)
    return {
        "learned ranker + learned decliner": ExtractiveAnswerer(model=index.model, scope=scope),
        "learned ranker + rules decline": ExtractiveAnswerer(model=index.model, scope=scope, decline="rules"),
        "learned ranker + topic check + rules decline": ExtractiveAnswerer(model=index.model, scope=scope, decline="topic+rules"),
        "rules only (adapted retrieval)": ExtractiveAnswerer(scope=scope),
    }


ITEM_FIELDS = {"id", "category", "question", "expected_answerable", "answerable", "correct", "missing", "evidence_rank", "answer"}


def crossval(base: Settings, items, group: str, k: int, work: Path, items_out: dict | None = None) -> dict[str, dict[str, float]]:
    fold_of = folds_of(items, group, k)
    results: dict[str, list] = {}
    for fold in range(k):
        train_dir = work / f"train-{group}-{fold}"
        train_dir.mkdir()
        with open(train_dir / "train.jsonl", "w", encoding="utf-8") as fh:
            for item, f in zip(items, fold_of):
                if f != fold:
                    fh.write(item.model_dump_json() + "\n")
        settings = base.model_copy(update={"train_dir": train_dir})
        report = tune(settings, LoadedIndex.open(settings))
        index = LoadedIndex.open(settings)
        held = [item for item, f in zip(items, fold_of) if f == fold]
        assistant = Assistant(settings, index=index)
        for name, answerer in variants(index).items():
            assistant.engine = replace(assistant.engine, answerer=answerer)
            results.setdefault(name, []).extend(run_eval(assistant.ask, held).items)
        print(f"  {group} fold {fold}: trained in {report.seconds:.0f} s on {report.items} items, held {len(held)}", file=sys.stderr)
    from assistant.evaluation.evaluate import summarise

    if items_out is not None:
        items_out.update({name: [row.model_dump(include=ITEM_FIELDS) for row in rows] for name, rows in results.items()})
    return {name: summarise(rows).model_dump() for name, rows in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--group", choices=["question", "evidence", "both"], default="both")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the table here")
    parser.add_argument("--items", type=Path, help="and every held-out item's result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        base = Settings(corpus_dir=corpus, persist_dir=work / "index", train_dir=ROOT / "evals" / "train")
        build_index(base)
        items = [item for path in training_files(base) for item in load_eval_set(path).items]
        table, per_item = {}, {}
        for group in (["question", "evidence"] if args.group == "both" else [args.group]):
            found: dict = {}
            for name, metrics in crossval(base, items, group, args.folds, work, found).items():
                table[f"{group}: {name}"] = metrics
            per_item.update({f"{group}: {name}": rows for name, rows in found.items()})
    print("| grouped by: answering | " + " | ".join(COLUMNS) + " | median chars |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for name, m in table.items():
        print(f"| {name} | " + " | ".join(f"{m[c]:.3f}" for c in COLUMNS) + f" | {m['answer_chars']['median']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(table, ensure_ascii=False, indent=2))
    if args.items:
        args.items.write_text(json.dumps(per_item, ensure_ascii=False))


if __name__ == "__main__":
    main()
