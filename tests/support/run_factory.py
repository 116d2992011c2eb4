"""Synthetic evaluation runs for the report, compare and run-store tests: scored by the real
`score_item`, with answers built by hand so every outcome is known in advance, and kept by the
store's own writer."""

from __future__ import annotations

from assistant.answer_models import Answer, Citation, Passage
from pathlib import Path

from assistant.evaluation.evaluate import EvalItem, score_item
from assistant.evaluation.keep import RunWriter
from assistant.evaluation.runs import RunMeta
from assistant.settings import Settings

EVIDENCE = "杭州 124 个，年产值 3380 亿元"
ITEMS = {
    "a": EvalItem(
        id="a",
        question="杭州有多少个<script>alert(1)</script>产业集群？",
        answerable=True,
        must_include=["124个", "3380亿元"],
        evidence=["杭州 124 个"],
        reference_answer="杭州有 124 个产业集群，年产值3380亿元。",
        category="fact",
    ),
    "b": EvalItem(id="b", question="江苏省有多少个产业集群？", answerable=False, category="unanswerable"),
    "c": EvalItem(
        id="c", question="=HYPERLINK(\"http://x\")", answerable=True, must_include=["58个"], category="<b>粗体</b>"
    ),
    "d": EvalItem(id="d", question="温州呢？", answerable=True, must_include=["73个"], category="multiturn"),
}


def answer(text: str, answerable: bool = True, cited: tuple[str, ...] = (EVIDENCE,), ms: float = 10.0) -> Answer:
    return Answer(
        question="q",
        answer=text,
        answerable=answerable,
        citations=[
            Citation(n=i + 1, chunk_id=f"c{i}", source="r.md", section="一、总体情况 › （一）杭州", text=t, score=1.0)
            for i, t in enumerate(cited)
        ],
        retrieved=[Passage(chunk_id="p0", source="r.md", section="别处", text="无关", score=2.0)]
        + [Passage(chunk_id=f"p{i + 1}", source="r.md", section="一、总体情况", text=t, score=1.0) for i, t in enumerate(cited)],
        timings_ms={"total": ms},
    )


def _meta(run_id: str) -> RunMeta:
    return RunMeta(id=run_id, created_at="2025-01-01T00:00:00", eval_set="synthetic.jsonl", mode="extractive")


def save_run(settings: Settings, run_id: str, answers: dict[str, Answer], also: Path | None = None) -> Path:
    """A kept run of the items named in `answers`, in ITEMS order; its folder."""
    with RunWriter(settings, _meta(run_id)) as writer:
        for key, item in ITEMS.items():
            if key in answers:
                writer.add(score_item(item, answers[key]), item.evidence)
        return writer.finish(also=also)


def save_large_run(settings: Settings, run_id: str, n: int) -> Path:
    """A kept run of `n` items (MIXED's four over and over, the ids made unique) without asking
    anything: what a 50,000-item evaluation keeps, for the cost of writing it."""
    scored = [(item, score_item(item, MIXED[key])) for key, item in ITEMS.items()]
    with RunWriter(settings, _meta(run_id)) as writer:
        for i in range(n):
            item, result = scored[i % len(scored)]
            writer.add(result.model_copy(update={"id": f"{item.id}-{i}"}), item.evidence)
        return writer.finish()


# a: fails (one string missing), b: passes (declines), c: fails, d: passes
MIXED = {
    "a": answer("杭州有 124 个产业集群。[1]"),
    "b": answer("报告中没有找到。", answerable=False, cited=()),
    "c": answer("=1+1", ms=30.0),
    "d": answer("温州 73 个。", ms=20.0),
}
