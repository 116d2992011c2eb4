"""The candidates an extractive answer quotes from: every sentence (or clause of a long,
semicolon-separated sentence) of the top passages, scored by how much of the question's rare
vocabulary it covers, and where each sits in reading order."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from langchain_core.documents import Document

from assistant.answer.markers import CAUSE, EXAMPLE
from assistant.answer.query import YEAR, Query
from assistant.ingest.normalize import compact
from assistant.ingest.sentences import clause_spans

_CN_NUMERAL = "一二两三四五六七八九十百千"
_CN_DIGITS = "零〇一二两三四五六七八九十百千万"
# a figure in Chinese numerals; a lone 一 before a measure word is an article (「一个庞大的产业集群」)
_CN_FIGURE = rf"(?:[{_CN_NUMERAL}]{{2,}}|[{_CN_NUMERAL.replace('一', '')}])"
_COUNT = re.compile(rf"\d|第[{_CN_NUMERAL}]+|{_CN_FIGURE}(?:个|家|种|件|项|类|条|大|分之)")
# a phase (起步阶段, 产业成长期): a sentence about another phase does not answer for this one
_PHASE = re.compile(r"..(?:阶段|时期|期)$")
_ANY_PHASE = re.compile(r"阶段|时期|萌芽期|起步期|导入期|形成期|成长期|发展期|成熟期|衰退期|转型期")
# a sentence that opens with a heading's number (「9、」, 「2.1 」, 「（二）」): its number counts no
# quantity, and completion quotes the text under it
HEADING = re.compile(r"^\s*(?:\d+(?:\.\d+)*\s*[、.．]?\s|\d+、|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)])")


@dataclass
class Segment:
    rank: int  # of its passage in retrieval order
    start: int
    end: int
    text: str
    score: float = 0.0
    covered: set[str] = field(default_factory=set)
    has_number: bool = False
    has_unit: bool = False
    section: tuple[str, str] = ("", "")  # (source, section path) of its passage
    order: int | None = None  # of its passage within the document, when the index knows it


def _figure(unit: str) -> str:
    """A number carrying `unit` (「30 亿元」, 「三十多个」), or the year pattern itself; what is
    asked for in 家 the report may count in 个 (「几家大企业集团」 → 「309 个」)."""
    if unit == YEAR:
        return YEAR
    unit = "家|个" if unit == "家" else unit
    return rf"(?:\d[\d.]*|{_CN_FIGURE})(?:多|余)?[十百千万亿]?个?(?:{unit})"


def score_segments(query: Query, documents: list[Document], passages: int) -> list[Segment]:
    """Every sentence (or clause) of the top `passages` documents, scored by how much of the
    question it covers, helped by its passage's section title and text, numbers and units."""
    segments: list[Segment] = []
    phases = [t for t in query.terms if _PHASE.search(t)]
    kind = re.escape(query.asked_kind or "")
    enumeration = re.compile(rf"{kind}[、，,和及与]\s*[\u4e00-\u9fff]{{1,6}}{kind}") if kind else None
    for rank, doc in enumerate(documents[:passages]):
        text = doc.page_content
        section = compact(doc.metadata.get("section", ""))
        whole = compact(text)
        prior = float(doc.metadata.get("score", 0.0))
        place = (doc.metadata.get("source", ""), doc.metadata.get("section", ""))
        order = doc.metadata.get("order")
        for start, end in clause_spans(text):
            piece = text[start:end]
            flat = compact(piece)
            covered = {t for t in query.terms if t in flat}
            score = math.fsum(query.terms[t] for t in covered)
            score += 0.6 * sum(w for t, w in query.terms.items() if t not in covered and t in section)
            score += 0.3 * sum(
                w for t, w in query.terms.items() if t not in covered and t not in section and t in whole
            )
            # a compound's head word stands for it at half weight: 年工业总产值 is a 年产值
            score += 0.5 * sum(w for t, w in query.terms.items() if t not in covered and len(t) >= 3 and t[-2:] in flat)
            score /= query.total
            has_number = bool(_COUNT.search(compact(HEADING.sub("", piece))))  # 「9、」 numbers a heading
            has_unit = bool(query.unit and re.search(_figure(query.unit), flat))
            if has_unit and _said_of(query, flat):
                score += 0.15
            if query.kind == "quantity":
                score += 0.15 if has_number else -0.2
            if query.unit and has_number:
                score += 0.2 if has_unit else -0.1
            score += 0.3 * sum(holds_number(flat, n) for n in query.numbers)
            score += 0.3 * sum(t in flat for t in query.thresholds)
            if query.why and CAUSE.search(flat):
                score += 0.15
            if query.example and EXAMPLE.search(flat):
                score += 0.2
            score += 0.1 * sum(holds_number(whole, n) for n in query.numbers)
            score += 0.1 * prior - 0.02 * rank
            if phases and not any(p in flat for p in phases) and _ANY_PHASE.search(flat):
                score *= 0.6
            if enumeration and enumeration.search(flat):
                score += 0.3
            segments.append(
                Segment(rank, start, end, piece, score, covered, has_number, has_unit, place, order)
            )
    return segments


def _said_of(query: Query, text: str) -> bool:
    """The asked figure follows a name of the question closely (「绍兴 58 个」), so it is that
    name's figure, not one of a sentence that mentions the name in passing (「绍兴轻纺产业集群等 29 个」)."""
    if not query.anchors:
        return False
    names = "|".join(re.escape(a) for a in sorted(query.anchors, key=len, reverse=True))
    return re.search(rf"(?:{names})[^，。；：、,;:\d]{{0,4}}?{_figure(query.unit)}", text) is not None


def holds_number(text: str, number: str) -> bool:
    """`number` as a whole number in `text`, in digits or as the report may write it in Chinese
    (6 as 六个, 100 亿 as 超百亿): 680 is not in 1680, 10 not in 10.5, 六 not in 十六."""
    return _number_pattern(number).search(text) is not None


@lru_cache(maxsize=1024)
def _number_pattern(number: str) -> re.Pattern[str]:
    import cn2an

    forms = [rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)"]
    if number.isascii() and number.isdigit() and 0 < int(number) < 100_000:  # (not 𖫁, a digit cn2an cannot write)
        written = cn2an.an2cn(number)
        forms.append(rf"(?<![{_CN_DIGITS}]){written}(?![{_CN_DIGITS}])")
        if written in ("一百", "一千", "一万"):  # 超百亿: a round figure without its 一
            forms.append(rf"(?<![{_CN_DIGITS}]){written[1]}(?=[万亿])")
    return re.compile("|".join(forms))


def overlap(a: Segment, b: Segment) -> bool:
    return a.rank == b.rank and a.start < b.end and b.start < a.end


def following(best: Segment, segments: list[Segment]) -> list[Segment]:
    """The sentences after `best` in reading order: the rest of its passage, then any retrieved
    passages that continue it in the same section (the next chunks), a repeated sentence once."""
    if best.order is None:
        return sorted((s for s in segments if s.rank == best.rank and s.start >= best.end), key=lambda s: s.start)
    ahead = [
        s for s in segments
        if s.section == best.section and s.order is not None
        and (s.order > best.order or (s.rank == best.rank and s.start >= best.end))
    ]
    out: list[Segment] = []
    seen = {best.text}
    expected = best.order
    for seg in sorted(ahead, key=lambda s: (s.order, s.start)):
        if seg.order > expected + 1:
            break  # a chunk in between was not retrieved: what follows is not known to continue
        expected = seg.order
        if seg.text not in seen:
            seen.add(seg.text)
            out.append(seg)
    return out
