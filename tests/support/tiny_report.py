"""A small made-up report, its training set and a held-out set, for tests that train a model:
indexed with multilingual-e5-small and trained in seconds, so a test can retrain as a trainer does.

The held-out questions were checked against the model trained on TRAINING: `h-talent-keep` and
`h-talent-top` fail (the wrong sentence of the right passage is quoted), and a training item
asking TALENT_POLICY (other words than any held-out question) with TALENT_EVIDENCE fixes both
and breaks none. The tests that rely on it say so when it stops being true.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import make_settings

REPORT = """# 示例城市产业报告

## 一、现状

甲市有 30 个产业集群，年产值 500 亿元。乙市有 12 个产业集群，年产值 90 亿元。

## 二、问题

企业创新能力不足，研发投入偏低。人才外流严重，高层次人才缺乏。

## 三、建议

加大研发投入，建设公共技术平台。引进高层次人才，完善人才政策。
"""

TRAINING = [
    {"id": "a1", "question": "甲市有几个集群？", "answerable": True, "must_include": ["30 个"], "evidence": ["甲市有 30 个产业集群"]},
    {"id": "a2", "question": "甲那边集群数量多少", "answerable": True, "must_include": ["30 个"], "evidence": ["甲市有 30 个产业集群"]},
    {"id": "a3", "question": "乙市集群有多少", "answerable": True, "must_include": ["12 个"], "evidence": ["乙市有 12 个产业集群"]},
    {"id": "a4", "question": "企业创新有啥毛病", "answerable": True, "must_include": ["创新能力不足"], "evidence": ["企业创新能力不足，研发投入偏低。"]},
    {"id": "a5", "question": "人才方面有什么问题", "answerable": True, "must_include": ["人才外流"], "evidence": ["人才外流严重，高层次人才缺乏。"]},
    {"id": "a6", "question": "报告建议人才上怎么办", "answerable": True, "must_include": ["引进高层次人才"], "evidence": ["引进高层次人才，完善人才政策。"]},
    {"id": "a7", "question": "研发这块该咋整", "answerable": True, "must_include": ["加大研发投入"], "evidence": ["加大研发投入，建设公共技术平台。"]},
    {"id": "u1", "question": "明天下雨吗？", "answerable": False},
    {"id": "u2", "question": "丙省有多少集群？", "answerable": False},
    {"id": "u3", "question": "甲市集群雇了多少工人？", "answerable": False},
    {"id": "u4", "question": "给我讲个笑话", "answerable": False},
]

HELD_OUT = [
    {"id": "h-rd-money", "question": "研发经费投得够不够", "answerable": True, "must_include": ["研发投入偏低"],
     "evidence": ["企业创新能力不足，研发投入偏低。"], "category": "问题"},
    {"id": "h-talent-flow", "question": "能人是不是都往外跑，人才这块咋样", "answerable": True, "must_include": ["人才外流"],
     "evidence": ["人才外流严重，高层次人才缺乏。"], "category": "问题"},
    {"id": "h-talent-keep", "question": "留住人才报告咋说", "answerable": True, "must_include": ["完善人才政策"],
     "evidence": ["引进高层次人才，完善人才政策。"], "category": "建议"},
    {"id": "h-platform", "question": "平台这事报告提了没", "answerable": True, "must_include": ["建设公共技术平台"],
     "evidence": ["加大研发投入，建设公共技术平台。"], "category": "建议"},
    {"id": "h-talent-top", "question": "高端人才够用吗", "answerable": True, "must_include": ["高层次人才缺乏"],
     "evidence": ["人才外流严重，高层次人才缺乏。"], "category": "问题"},
]
# what a trainer adds for h-talent-keep: its evidence sentence, asked in other words
TALENT_POLICY = "人才政策要怎么弄"
TALENT_EVIDENCE = "引进高层次人才，完善人才政策。"


def write_set(path: Path, items: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def tiny_settings(root: Path):
    """The report in `root/corpus`, TRAINING in `root/train`, HELD_OUT in `root/evals`; the
    settings name them all, with the data folder and the index in `root`, and e5 embeddings."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / "report.md").write_text(REPORT, encoding="utf-8")
    write_set(root / "train" / "train.jsonl", TRAINING)
    write_set(root / "evals" / "held.jsonl", HELD_OUT)
    return make_settings(root, corpus).model_copy(
        update={"embedding": "e5", "train_dir": root / "train", "evals_dir": root / "evals"}
    )


def trained_tiny(root: Path):
    """`tiny_settings(root)` indexed and trained (about 15 s here; nothing to do when it was)."""
    from assistant.index.build import build_index
    from assistant.learn.tune import ensure_model

    settings = tiny_settings(root)
    build_index(settings)
    ensure_model(settings)
    return settings


FOLDERS = ("corpus_dir", "persist_dir", "data_dir", "evals_dir", "train_dir")


def copied(settings, where: Path):
    """A copy of the tiny report's folders (corpus, index, sets, data) at `where`, and its settings:
    one test's training leaves the others' alone."""
    root = settings.corpus_dir.parent
    shutil.copytree(root, where)
    return settings.model_copy(update={name: where / getattr(settings, name).relative_to(root) for name in FOLDERS})
