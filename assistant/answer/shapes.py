"""Answers with a shape of their own: the item a question asks for by number, a section's
numbered sub-section titles, the entries at the asked end of a ranking, and a list the report
gives as parallel lead-ins."""

from __future__ import annotations

import os
import re
from dataclasses import replace

from langchain_core.documents import Document

from assistant.answer.compose import section_heading
from assistant.answer.markers import EXAMPLE
from assistant.answer.query import NAMED_SECTION, Query, title_coverage
from assistant.answer.segments import Segment
from assistant.ingest.normalize import compact
from assistant.ingest.outline import asked_item, heading_number, item_mark

_MONEY_WORDS = re.compile(r"产值|成交额|收入|销售|总额|规模")
# an entry of a ranked list: a name of two to eight characters, then its figure (「舟山 11 个」)
_ENTRY = re.compile(r"^\s*(?:[^，,；;：:]{0,12}[：:])?\s*[\u4e00-\u9fff]{2,8}\s*\d")
_BRACKETED = re.compile(r"(?:^|[、，,：:；;为])\s*([^、，,：:；;（()）]{2,16}?)\s*[（(]([^）)]*)[）)]")
MAX_ANSWER_CHARS = 400
# a sentence that announces the items that follow it (as sub-sections)
_OPENS_OUTLINE = re.compile(r"以下几[点个条方]|如下|下列|以下[方面措施问题建议对策]")
_LABEL = re.compile(r"^\s*([^，,。；;：:、]{4,24})[：:]")


def numbered_item(
    query: Query, segments: list[Segment], documents: list[Document], budget: int
) -> tuple[list[Segment], str]:
    """The item a question asks for by number, and the heading to lead with: the part of the
    top passage that marks it (「二是工业利润的长期走低…」, up to the next item), or, when the
    top passage is the numbered section asked for (「存在的问题第三条」 → 「3、…」), that heading
    and its opening sentence (two, when the first is the heading itself)."""
    n = asked_item(query.text)
    if n is None or not documents:
        return [], ""
    top = sorted((s for s in segments if s.rank == 0), key=lambda s: s.start)
    mark, next_mark = item_mark(n), item_mark(n + 1)
    marked = next((s for s in top if mark.search(s.text)), None)
    if marked is not None:
        at = mark.search(marked.text).start()
        item = [replace(marked, start=marked.start + at, text=marked.text[at:])]
        for seg in top[top.index(marked) + 1 :]:
            following = next_mark.search(seg.text)
            if following:
                seg = replace(seg, end=seg.start + following.start(), text=seg.text[: following.start()])
            if not seg.text.strip() or sum(len(s.text) for s in item) + len(seg.text) > budget:
                break
            item.append(seg)
            if following:
                break
        return item, ""
    heading = section_heading(documents[0])
    if heading_number(heading) != n or not top:
        return [], ""
    example = next((s for s in top if EXAMPLE.search(s.text)), None) if query.example else None
    if example is not None:  # 「第二点…有啥具体例子」: the example the item gives
        return [example], heading
    opening = top[:2] if compact(top[0].text).startswith(compact(heading)) else top[:1]
    return opening, heading


def outline_items(query: Query, best: Segment, segments: list[Segment], documents: list[Document]) -> tuple[list[str], Segment | None, str]:
    """A section's numbered sub-section titles when they are the list asked for: the sentence
    to quote with them, and the title to lead with instead of a sentence. Either a top
    passage's section is what the question names (「存在哪些主要问题」 → 「（二）存在的主要问题」
    and its 1、… 9、…) - unless the best sentence lists as many items itself (「生物技术产业、
    电子信息产业、…」) - or the best sentence announces them (「要综合考虑以下几点。」). Too long
    a list is left to the sentences."""

    def listable(doc: Document) -> list[str]:
        titles = doc.metadata.get("subsections") or []
        return titles if len(titles) >= 2 and sum(len(t) + 1 for t in titles) <= MAX_ANSWER_CHARS - 20 else []

    named = []
    for rank, doc in enumerate(documents[: len({s.rank for s in segments})]):
        coverage = title_coverage(query, section_heading(doc))
        if (titles := listable(doc)) and coverage >= NAMED_SECTION:
            named.append((-coverage, rank, titles))
    _, rank, titles = min(named, default=(0.0, 0, []))
    if titles and best.text.count("、") + 1 < len(titles):
        opening = min((s for s in segments if s.rank == rank), key=lambda s: s.start)
        return titles, opening, section_heading(documents[rank])
    titles = listable(documents[best.rank])
    if titles and _OPENS_OUTLINE.search(best.text) and len(best.text) + sum(map(len, titles)) <= MAX_ANSWER_CHARS - 30:
        return titles, best, ""
    return [], None, ""


def ranking_end(query: Query, segments: list[Segment]) -> list[Segment]:
    """The entries at the asked place of a ranking - the top or the bottom (「哪个市的集群最少」),
    the n-th from either end (「倒数第二」, ties included: 「并列第二」), or the first few
    (「前三」) - in the first passage, in retrieval order, that lists at least three entries, as
    clauses (「舟山 11 个」) or in brackets (「纺织业（51 个区块，年产值 2950 亿元）」). The figure
    ranked is money when the question asks about output or sales, otherwise a count."""
    unit = r"(?:亿|万)?元" if _MONEY_WORDS.search(query.text) else r"个|家"
    for rank in sorted({s.rank for s in segments}):
        entries = [e for seg in sorted((s for s in segments if s.rank == rank), key=lambda s: s.start)
                   for e in _entries(seg, unit)]
        if len(entries) >= 3:
            ordered = sorted(entries, key=lambda e: -e[0] if query.extreme == "max" else e[0])
            place = min(max(query.rank_top, query.rank_at), len(ordered)) - 1
            edge = ordered[place][0]
            if query.rank_top > 1:
                return [seg for value, seg in entries if (value >= edge if query.extreme == "max" else value <= edge)]
            return [seg for value, seg in entries if value == edge]
    return []


def _entries(seg: Segment, unit: str) -> list[tuple[float, Segment]]:
    """(figure, entry) pairs of a sentence: its bracketed entries when it has several, else the
    sentence itself when it is one entry (a name, then its figure)."""
    inline = []
    for m in _BRACKETED.finditer(seg.text):
        figure = re.search(rf"(\d+(?:\.\d+)?)\s*(?:{unit})", m.group(2))
        if figure:
            inline.append((float(figure.group(1)), replace(
                seg, start=seg.start + m.start(1), end=seg.start + m.end(), text=seg.text[m.start(1) : m.end()])))
    if len(inline) >= 2:
        return inline
    figure = re.search(rf"(\d+(?:\.\d+)?)\s*(?:{unit})", seg.text)
    return [(float(figure.group(1)), seg)] if figure and _ENTRY.match(seg.text) else []


def parallel_labels(best: Segment, segments: list[Segment]) -> list[Segment]:
    """When `best` opens with a label (「加快金融保险类服务业发展：」) that at least two other
    sentences of its section's retrieved passages echo, those labels in reading order: a list
    the report gives as lead-ins."""
    label = _LABEL.match(best.text)
    if not label:
        return []
    own = label.group(1)
    same_place = [s for s in segments if s.rank == best.rank or (best.order is not None and s.section == best.section)]
    items: dict[str, Segment] = {}
    for seg in sorted(same_place, key=lambda s: (s.order or 0, s.start)):
        other = _LABEL.match(seg.text)
        if other and _echoes(own, other.group(1)):
            items.setdefault(other.group(1), replace(seg, end=seg.start + other.end(), text=seg.text[: other.end()]))
    return list(items.values()) if len(items) >= 3 else []


def _echoes(a: str, b: str) -> bool:
    prefix = len(os.path.commonprefix([a, b]))
    suffix = len(os.path.commonprefix([a[::-1], b[::-1]]))
    return prefix + suffix >= 4
