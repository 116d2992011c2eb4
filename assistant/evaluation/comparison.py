"""Two kept runs side by side: metric deltas (B − A) and the items, matched by id, that were
fixed, broke or still fail, as text (the 评测 tab, `assistant eval compare`) and as a page."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel

from assistant.evaluation.evaluate import UNCATEGORISED
from assistant.evaluation.report import flatten, jinja_env, metric_name
from assistant.evaluation.runs import KeptRun, RunMeta
from assistant.evaluation.sets import role_name


class Flip(BaseModel):
    id: str
    category: str | None
    question: str
    answer_a: str
    answer_b: str
    missing_b: list[str]


class MetricDelta(BaseModel):
    metric: str
    a: float
    b: float
    delta: float


class Comparison(BaseModel):
    a: RunMeta
    b: RunMeta
    deltas: list[MetricDelta]
    fixed: list[Flip]
    broken: list[Flip]
    still_failing: list[Flip]
    only_a: list[str]
    only_b: list[str]
    common: int  # items (by id) in both runs

    @property
    def mismatch(self) -> str | None:
        """A warning when the runs scored different sets: their metrics are not comparable."""
        if self.a.eval_set == self.b.eval_set:
            return None
        return (
            f"两次运行的评测集不同（A：{self.a.eval_set}，B：{self.b.eval_set}），两边共有 {self.common} 道相同的题；"
            "指标来自不同的题目，不能直接比较，逐题对比只看这些共有的题。"
        )


def compare(a: KeptRun, b: KeptRun) -> Comparison:
    """Metric deltas (B − A) and the items, matched by id, whose correctness changed or not.
    Read from the runs' short rows; only the answers of the items listed are read whole."""
    metrics_a, metrics_b = flatten(a.summary.metrics.model_dump()), flatten(b.summary.metrics.model_dump())
    deltas = [
        MetricDelta(metric=k, a=metrics_a[k], b=metrics_b[k], delta=round(metrics_b[k] - metrics_a[k], 4))
        for k in metrics_a
        if k in metrics_b
    ]
    rows_a = {row.id: row for row in a.rows()}
    groups: dict[tuple[bool, bool], list[Flip]] = {(False, True): [], (True, False): [], (False, False): []}
    only_b, seen = [], set()
    for rb in b.rows():
        seen.add(rb.id)
        ra = rows_a.get(rb.id)
        if ra is None:
            only_b.append(rb.id)
        elif (ra.correct, rb.correct) in groups:
            groups[(ra.correct, rb.correct)].append(
                Flip(id=rb.id, category=rb.category, question=rb.question, answer_a=a.item(ra.at).answer,
                     answer_b=b.item(rb.at).answer, missing_b=rb.missing)
            )
    return Comparison(
        a=a.meta,
        b=b.meta,
        deltas=deltas,
        fixed=groups[(False, True)],
        broken=groups[(True, False)],
        still_failing=groups[(False, False)],
        only_a=[i for i in rows_a if i not in seen],
        only_b=only_b,
        common=len(seen) - len(only_b),
    )


def _number(value: float) -> str:
    return f"{value:g}"


def _padded(text: str, width: int) -> str:
    """`text` padded to `width` columns, a Chinese character taking two (so columns line up)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(1, width - used)


def _role(meta: RunMeta) -> str:
    return f"（{role_name(meta.role)}）" if meta.role else ""


def comparison_text(c: Comparison) -> str:
    """The comparison as text (the 评测 tab, `assistant eval compare`): Chinese first, with the
    English words of the HTML page beside them."""
    lines = [
        line
        for name, run in (("A", c.a), ("B", c.b))
        for line in (f"{name}  {run.id}  {run.eval_set}{_role(run)}  {run.embedding or ''}",
                     f"   作答模型 model: {run.describe_model()}")
    ]
    if c.mismatch:
        lines += ["", f"⚠ {c.mismatch}"]
    lines += ["", f"{_padded('指标 metric', 46)}{'A':>10}{'B':>10}{'B−A':>10}"]
    lines += [
        f"{_padded(f'{metric_name(d.metric)} {d.metric}', 46)}{_number(d.a):>10}{_number(d.b):>10}{d.delta:>+10g}"
        for d in c.deltas
    ]
    for title, flips in (("修好了 fixed", c.fixed), ("改坏了 broken", c.broken), ("仍未通过 still failing", c.still_failing)):
        lines += ["", f"{title} ({len(flips)})"]
        lines += [f"  {f.id}  [{f.category or UNCATEGORISED}]  {f.question}" for f in flips]
    for title, ids in (("只在 A 中 only in A", c.only_a), ("只在 B 中 only in B", c.only_b)):
        if ids:
            lines += ["", f"{title} ({len(ids)}): {', '.join(ids)}"]
    return "\n".join(lines)


def comparison_html(c: Comparison) -> str:
    return jinja_env().get_template("compare.html.j2").render(c=c, uncategorised=UNCATEGORISED)
