"""Completing the quoted sentence: the items of a list it opens, the text under a heading it
quotes, the sentence it leans on, and the neighbours the companion model reads."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from assistant.answer.companions import NEIGHBOURS_AFTER, NEIGHBOURS_BEFORE
from assistant.answer.markers import CAUSE, LIST_GOES_ON, LIST_OPENS, MARK_INSIDE, NUMBERED, REMEDY
from assistant.answer.query import Query
from assistant.answer.segments import HEADING, Segment, following

# a sentence that only makes sense after the one before it
_LEANS_BACK = re.compile(r"^\s*(?:另一方面|其次|此外|再者|与此同时)")
_MAX_PASSED_OVER = 2


def continuation(best: Segment, segments: list[Segment], budget: int) -> list[Segment]:
    """What completes `best` in its passage: the items of a list it opens (一是… 二是…, a lead-in
    ending in ：), or the text under a numbered heading it quotes. A heading alone answers nothing.

    An item marked 二是/三是 may sit a sentence or two further on (an explanation in between is
    passed over), and an item too long for the budget is quoted up to its first comma."""
    after = following(best, segments)
    heading = bool(HEADING.match(best.text)) and len(best.text) <= 40
    enumerates = bool(LIST_OPENS.search(best.text))
    if not (heading or enumerates):
        return []
    only_a_list = enumerates and not heading
    lead_in = best.text.rstrip().endswith(("：", ":"))  # its first item need not be marked
    numbered = bool(NUMBERED.search(best.text))  # its later items carry their own marks
    taken: list[Segment] = []
    used, passed_over = len(best.text), 0
    for seg in after:
        if only_a_list and not LIST_GOES_ON.match(seg.text) and (taken or not lead_in):
            item = _from_mark(seg) if numbered else None
            if item is None:
                passed_over += 1
                if numbered and passed_over <= _MAX_PASSED_OVER:
                    continue
                break
            seg = item
        passed_over = 0
        if used + len(seg.text) > budget:
            seg = head_clause(seg)
            if not only_a_list or used + len(seg.text) > budget:
                break
        taken.append(seg)
        used += len(seg.text)
    return taken


def _from_mark(seg: Segment) -> Segment | None:
    """The part of `seg` from an item mark after a clause break (「…困难；三是市场压力。」)."""
    mark = MARK_INSIDE.search(seg.text)
    return replace(seg, start=seg.start + mark.start(1), text=seg.text[mark.start(1) :]) if mark else None


def head_clause(seg: Segment) -> Segment:
    """`seg` up to its first comma: 「二是要构筑跨区域的服务支撑体系，」 names the item."""
    cut = re.search(r"[，,；;：:]", seg.text)
    return replace(seg, end=seg.start + cut.end(), text=seg.text[: cut.end()]) if cut else seg


def leaned_on(query: Query, chosen: list[Segment], segments: list[Segment], budget: int) -> list[Segment]:
    """Sentences the quoted ones lean on: the first half of an 「另一方面，…」; for a question
    that also asks what to do (「…咋回事，报告说咋办」) the remedy right after the problem; for
    a question that asks why, a cause next to the quoted sentence when it gives none."""
    extra: list[Segment] = []
    room = budget - sum(len(c.text) for c in chosen)
    wanted = [_beside(seg, segments, -1) for seg in chosen if _LEANS_BACK.match(seg.text)]
    if query.remedy and not any(REMEDY.search(seg.text) for seg in chosen):
        after = _beside(chosen[0], segments, +1)
        wanted.append(after if after and REMEDY.search(after.text) else None)
    if query.why and not any(CAUSE.search(seg.text) for seg in chosen):  # 「为啥建议…」: the cause before it
        near = [_beside(chosen[0], segments, step) for step in (-1, +1)]
        wanted.append(next((seg for seg in near if seg and CAUSE.search(seg.text)), None))
    for seg in wanted:
        if seg is not None and seg not in chosen + extra and len(seg.text) <= room:
            extra.append(seg)
            room -= len(seg.text)
    return extra


def _beside(seg: Segment, segments: list[Segment], step: int) -> Segment | None:
    """The sentence before (step -1) or after (+1) `seg` in its passage. `seg` is found by where
    it starts: a companion quoted by its first clause is a cut copy of its sentence."""
    same = sorted((s for s in segments if s.rank == seg.rank), key=lambda s: s.start)
    at = max(i for i, s in enumerate(same) if s.start <= seg.start) + step
    return same[at] if 0 <= at < len(same) else None


def neighbours(best: Segment, segments: list[Segment]) -> list[tuple[int, Segment]]:
    """The candidates around `best` in reading order, with their offset from it: a few before it
    in its passage, and after it the rest of its passage and the passages that continue it."""
    same = sorted((s for s in segments if s.rank == best.rank), key=lambda s: s.start)
    at = same.index(best)
    before = [(i - at, s) for i, s in enumerate(same) if -NEIGHBOURS_BEFORE <= i - at < 0 and s.text != best.text]
    after = [s for s in following(best, segments) if s.text != best.text][:NEIGHBOURS_AFTER]
    return before + [(k, s) for k, s in enumerate(after, 1)]


def described_neighbours(
    best: Segment, segments: list[Segment], rows: np.ndarray, logits: np.ndarray
) -> list[tuple[int, Segment, np.ndarray, float]]:
    """`neighbours` of `best`, each with its sentence features and ranker logit (rows and logits
    line up with `segments`): what the companion model reads, at answering and at tuning."""
    at = {id(seg): i for i, seg in enumerate(segments)}
    return [(offset, seg, rows[at[id(seg)]], float(logits[at[id(seg)]])) for offset, seg in neighbours(best, segments)]
