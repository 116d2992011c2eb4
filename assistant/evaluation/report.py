"""What a trainer reads after an evaluation run: results.csv, metrics.json and report.html
(the comparison of two runs is assistant.evaluation.comparison's).

Every piece of question, answer or report text reaches HTML through Jinja2 autoescaping or
`markupsafe.escape`; the pages are single files with inline CSS and inline SVG charts, so they
open offline and link to nothing.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from functools import lru_cache

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from assistant.evaluation.evaluate import UNCATEGORISED, ItemResult
from assistant.evaluation.runs import RunItem, RunSummary
from assistant.evaluation.sets import role_name

REPORT_ITEMS = 1000  # items report.html shows, failures first; every item is in results.csv

CSV_COLUMNS = [
    "id",
    "category",
    "question",
    "expected_answerable",
    "answer",
    "reference_answer",
    "correct",
    "missing",
    "answerable",
    "citation_correct",
    "cited_sections",
    "evidence_rank",
    "latency_ms",
]
LIST_SEPARATOR = " | "
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "Droid Sans Fallback")
# A spreadsheet treats a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# what trainers read for each metric key (flattened: latency_ms.p50); a key not here shows as it is
METRIC_NAMES = {
    "n": "题数",
    "answer_accuracy": "答案准确率",
    "citation_accuracy": "引用准确率",
    "hit_at_1": "首位命中率（hit@1）",
    "hit_at_5": "前五命中率（hit@5）",
    "mrr": "平均倒数排名（MRR）",
    "refusal_accuracy": "拒答准确率",
    "latency_ms.p50": "延迟中位数（毫秒）",
    "latency_ms.p95": "延迟 95 分位（毫秒）",
    "answer_chars.median": "回答长度中位数（字）",
    "answer_chars.max": "回答最长（字）",
}


def metric_name(key: str) -> str:
    return METRIC_NAMES.get(key, key)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def cited_sections(item: ItemResult) -> list[str]:
    return [f"[{c['n']}] {c.get('section') or c.get('title') or c.get('source', '')}" for c in item.citations]


def csv_cells(r: ItemResult) -> list[str]:
    """One item's results.csv row; list cells joined by " | ". Text cells that a spreadsheet
    would run as a formula get a leading apostrophe, so the file opens as text. The file is
    written as UTF-8 with BOM (`keep.RunWriter`)."""
    return [
        _cell(v)
        for v in (
            r.id,
            r.category,
            r.question,
            r.expected_answerable,
            r.answer,
            r.reference_answer,
            r.correct,
            LIST_SEPARATOR.join(r.missing),
            r.answerable,
            r.citation_correct,
            LIST_SEPARATOR.join(cited_sections(r)),
            r.evidence_rank,
            r.latency_ms,
        )
    ]


def metrics_json(summary: RunSummary) -> str:
    data = {
        "run": summary.meta.model_dump(exclude={"skipped_rows"}),
        "metrics": summary.metrics.model_dump(),
        "by_category": summary.categories,
        "llm_judged": None,
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def highlight(text: str | None, needles: list[str]) -> Markup:
    """Escaped text with every occurrence of a needle wrapped in <mark>."""
    text = text or ""
    wanted = sorted({n for n in needles if n}, key=len, reverse=True)
    if not wanted:
        return escape(text)
    pieces = re.split("(" + "|".join(re.escape(n) for n in wanted) + ")", text)
    return Markup("").join(Markup("<mark>%s</mark>") % p if p in wanted else escape(p) for p in pieces)


@lru_cache(maxsize=1)
def jinja_env() -> Environment:
    env = Environment(loader=PackageLoader("assistant", "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["highlight"] = highlight
    env.filters["metric_name"] = metric_name
    env.filters["role_name"] = role_name
    return env


def _fonts() -> list[str]:
    from matplotlib import font_manager

    present = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in present] + ["DejaVu Sans"]


def _svg(figure) -> Markup:
    """The figure as an inline <svg> element; glyphs are drawn as paths, so no font is needed."""
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a missing CJK glyph draws a box; the report still works
        figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = out.getvalue()
    return Markup(svg[svg.index("<svg") :])


def charts(categories: dict[str, dict], latencies: list[float]) -> dict[str, Markup]:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "path", "font.family": _fonts(), "font.size": 10}):
        names = list(categories)
        accuracy = Figure(figsize=(6, 0.45 * len(names) + 1.2))
        ax = accuracy.subplots()
        bars = ax.barh(names, [g["accuracy"] * 100 for g in categories.values()], color="#3b7dd8")
        ax.bar_label(bars, labels=[f"{g['correct']}/{g['n']}" for g in categories.values()], padding=3)
        ax.set_xlim(0, 110)
        ax.invert_yaxis()
        ax.set_xlabel("正确率 accuracy (%)")
        ax.set_title("按类别的正确率 · accuracy by category")

        latency = Figure(figsize=(6, 2.8))
        ax = latency.subplots()
        ax.hist(latencies, bins=max(1, min(20, len(latencies))), color="#6a9f58")
        ax.set_xlabel("延迟 latency (ms)")
        ax.set_ylabel("题数 items")
        ax.set_title("延迟分布 · latency distribution")
        return {"accuracy": _svg(accuracy), "latency": _svg(latency)}


def flatten(data: dict, prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def report_html(summary: RunSummary, shown: list[RunItem], latencies: list[float]) -> str:
    """The run on one page: metrics, charts, then the items `shown` (failures first, at most
    REPORT_ITEMS: 50,000 items made a 125 MB page), with a note when that is not all of them."""
    shown = sorted(shown, key=lambda r: r.correct)  # stable: failures first, set order kept
    return jinja_env().get_template("report.html.j2").render(
        meta=summary.meta,
        metrics=flatten(summary.metrics.model_dump()),
        n=summary.metrics.n,
        categories=summary.categories,
        charts=charts(summary.categories, latencies),
        items=shown,
        failures=summary.failures,
        cap=REPORT_ITEMS,
        uncategorised=UNCATEGORISED,
    )


def _parts():
    return jinja_env().get_template("parts.html.j2").module


def summary_html(summary: RunSummary) -> str:
    """The run's header and metrics, as in report.html (for the 评测 tab)."""
    return str(_parts().summary(summary.meta, flatten(summary.metrics.model_dump()), summary.metrics.n, summary.failures))


def item_html(item: RunItem, index: int) -> str:
    """One item as in report.html: answer vs reference, missing strings, evidence vs cited passages."""
    return str(_parts().item(item, item.evidence, UNCATEGORISED, index))


def item_css() -> str:
    """The styles of `summary_html` and `item_html`, for a page that is not report.html."""
    return jinja_env().loader.get_source(jinja_env(), "item.css")[0]
