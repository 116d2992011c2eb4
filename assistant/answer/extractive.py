"""The extractive answerer: quote the few sentences of the retrieved passages that answer.

No language model is needed. Each sentence (or clause of a long, semicolon-separated
sentence) of the top passages is scored by how much of the question's rare vocabulary it
covers, helped by its passage's section title and surrounding text; the best ones are quoted
verbatim, numbers untouched, each followed by its citation [n].

It declines (answerable=False) when the question's distinctive words, or the numbers it
names, are not in the passage that would answer it: a strong match on "义乌小商品城" is no
evidence for its floor area.

With a trained model (`assistant tune`, assistant.index.ranking) the learned sentence ranker orders the
candidates and the learned decliner says whether to answer; the hand-written score and the
decline rules above are then two of their features (assistant.answer.features).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from langchain_core.documents import Document

from assistant.answer_models import Answer, Citation, Passage
from assistant.ingest.chunk import PATH_SEPARATOR
from assistant.answer.companions import NEIGHBOURS_BEFORE, NEIGHBOURS_AFTER, pair_rows
from assistant.answer.features import SENTENCE_FEATURES, question_row, sentence_rows
from assistant.answer.markers import CAUSE, EXAMPLE, LIST_GOES_ON, LIST_OPENS, LISTS, MARK_INSIDE, NUMBERED, REMEDY
from assistant.ingest.normalize import compact
from assistant.ingest.outline import asked_item, heading_number, item_mark
from assistant.answer.query import FOUNDING, NAMED_SECTION, YEAR, Query, title_coverage
from assistant.answer.retrieve import ON_TOPIC
from assistant.ingest.sentences import clause_spans

_MONEY_WORDS = re.compile(r"产值|成交额|收入|销售|总额|规模")
# an entry of a ranked list: a name of two to eight characters, then its figure (「舟山 11 个」)
_ENTRY = re.compile(r"^\s*(?:[^，,；;：:]{0,12}[：:])?\s*[\u4e00-\u9fff]{2,8}\s*\d")
_BRACKETED = re.compile(r"(?:^|[、，,：:；;为])\s*([^、，,：:；;（()）]{2,16}?)\s*[（(]([^）)]*)[）)]")
_CN_NUMERAL = "一二两三四五六七八九十百千"
_CN_DIGITS = "零〇一二两三四五六七八九十百千万"
# a figure in Chinese numerals; a lone 一 before a measure word is an article (「一个庞大的产业集群」)
_CN_FIGURE = rf"(?:[{_CN_NUMERAL}]{{2,}}|[{_CN_NUMERAL.replace('一', '')}])"
_COUNT = re.compile(rf"\d|第[{_CN_NUMERAL}]+|{_CN_FIGURE}(?:个|家|种|件|项|类|条|大|分之)")
_AIM = re.compile(r"力争|争取|目标|预计|确保|力求|计划到|规划到")
_DONE = re.compile(r"已经|已[经有达实完建]|实现了|达到了|完成了|建成了")
AIM_ONLY = "报告只提出了这个目标，没有说是否已经实现"
# a phase (起步阶段, 产业成长期): a sentence about another phase does not answer for this one
_PHASE = re.compile(r"..(?:阶段|时期|期)$")
_ANY_PHASE = re.compile(r"阶段|时期|萌芽期|起步期|导入期|形成期|成长期|发展期|成熟期|衰退期|转型期")
# a sentence that only makes sense after the one before it
_LEANS_BACK = re.compile(r"^\s*(?:另一方面|其次|此外|再者|与此同时)")
MAX_ANSWER_CHARS = 400
# a sentence that announces the items that follow it (as sub-sections)
_OPENS_OUTLINE = re.compile(r"以下几[点个条方]|如下|下列|以下[方面措施问题建议对策]")
_LEAD = re.compile(r"^[^，。；：、]{1,6}[：:]")
_LABEL = re.compile(r"^\s*([^，,。；;：:、]{4,24})[：:]")
_MAX_PASSED_OVER = 2
_HEADING = re.compile(r"^\s*(?:\d+(?:\.\d+)*\s*[、.．]?\s|\d+、|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)])")


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


class ExtractiveAnswerer:
    """Chooses and quotes sentences; the thresholds are fractions of the question's weight."""

    def __init__(
        self, passages: int = 4, min_coverage: float = 0.35, budget_chars: int = 150, runner_up: float = 0.7,
        model=None, scope: str = "", decline: str = "learned",
    ) -> None:
        self.decline = decline  # "learned": the decliner; "rules": the grounding rules over the learned order
        self.model = model if model is not None and model.ranker is not None else None
        self.scope = scope  # what the corpus covers, said when declining
        self.passages = passages
        self.min_coverage = min_coverage
        self.runner_up = runner_up
        self.budget_chars = budget_chars

    def _segments(self, query: Query, documents: list[Document]) -> list[Segment]:
        segments: list[Segment] = []
        phases = [t for t in query.terms if _PHASE.search(t)]
        kind = re.escape(query.asked_kind or "")
        enumeration = re.compile(rf"{kind}[、，,和及与]\s*[\u4e00-\u9fff]{{1,6}}{kind}") if kind else None
        for rank, doc in enumerate(documents[: self.passages]):
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
                score = sum(query.terms[t] for t in covered)
                score += 0.6 * sum(w for t, w in query.terms.items() if t not in covered and t in section)
                score += 0.3 * sum(
                    w for t, w in query.terms.items() if t not in covered and t not in section and t in whole
                )
                # a compound's head word stands for it at half weight: 年工业总产值 is a 年产值
                score += 0.5 * sum(w for t, w in query.terms.items() if t not in covered and len(t) >= 3 and t[-2:] in flat)
                score /= query.total
                has_number = bool(_COUNT.search(compact(_HEADING.sub("", piece))))  # 「9、」 numbers a heading
                has_unit = bool(query.unit and re.search(_figure(query.unit), flat))
                if has_unit and _said_of(query, flat):
                    score += 0.15
                if query.kind == "quantity":
                    score += 0.15 if has_number else -0.2
                if query.unit and has_number:
                    score += 0.2 if has_unit else -0.1
                score += 0.3 * sum(_has_number(flat, n) for n in query.numbers)
                score += 0.3 * sum(t in flat for t in query.thresholds)
                if query.why and CAUSE.search(flat):
                    score += 0.15
                if query.example and EXAMPLE.search(flat):
                    score += 0.2
                score += 0.1 * sum(_has_number(whole, n) for n in query.numbers)
                score += 0.1 * prior - 0.02 * rank
                if phases and not any(p in flat for p in phases) and _ANY_PHASE.search(flat):
                    score *= 0.6
                if enumeration and enumeration.search(flat):
                    score += 0.3
                segments.append(
                    Segment(rank, start, end, piece, score, covered, has_number, has_unit, place, order)
                )
        return segments

    def _budget(self, query: Query) -> int:
        return self.budget_chars * (2 if query.kind in ("list", "reason") or query.compares else 1)

    def gap(self, query: Query, best: Segment, segments: list[Segment], documents: list[Document]) -> str | None:
        """What the answering passage lacks (the question's rarest words, its names, its numbers,
        the kind of figure asked for), said in a few words for the decline; None when grounded."""
        doc = documents[best.rank]
        # the document's title counts: 「浙江」 need not be repeated in every passage of a Zhejiang report
        context = compact(doc.page_content + doc.metadata.get("section", "") + doc.metadata.get("title", ""))
        missing_names = sorted(a for a in query.anchors if a not in context)
        if missing_names:
            return f"报告没有提到「{'、'.join(missing_names)}」"
        missing_numbers = [n for n in query.numbers if not _has_number(context, n)]
        if missing_numbers:
            return f"报告没有与「{'、'.join(missing_numbers)}」对应的内容"
        # a number the question names (all are in the passage by now) is as telling as its
        # rarest word: 「三百亿元以上的有几个」 is answered by 「300 亿元以上的 7 个」 in other words
        numbers = [max(query.terms.values(), default=1.0)] * len(query.numbers)
        shared = [w for t, w in query.terms.items() if t in context] + numbers
        if sum(shared) / (query.total + sum(numbers)) < self.min_coverage:
            return "报告中没有与这个问题对得上的段落"
        # the question's rarest noun outweighs all it shares with the passage: 杭州's output is
        # no answer about 杭州's 动漫 cluster (a rare verb, 体现, is only how it is asked)
        rarest = max(query.nouns, key=query.terms.__getitem__, default=None)
        if rarest and rarest not in context and query.terms[rarest] > max(shared, default=0.0):
            return f"这一段没有提到「{rarest}」"
        unmeasured = [m for m in query.measures if m not in context]
        if unmeasured:
            return f"这一段没有提到「{'、'.join(unmeasured)}」"  # 万向's sales are no answer about its profit
        if query.kind == "quantity" and not best.has_number:
            return "报告提到了相关内容，但没有给出这个数字"
        quoted = best.text + "".join(s.text for s in _continuation(best, segments, self._budget(query)))
        if query.kind == "list" and best.has_number and not LISTS.search(quoted):
            return "报告提到了相关内容，但没有列出这些项"  # 舟山's count is no list of its industries
        if query.unit_required and not best.has_unit:
            return "报告提到了相关内容，但没有给出这一类数字"  # a count where money was asked, say
        if query.founding and not FOUNDING.search(best.text):
            return "报告提到了相关内容，但没有说它是哪一年建立的"
        if query.outcome and _AIM.search(best.text) and not _DONE.search(best.text):
            return AIM_ONLY
        return None

    def candidates(self, query: Query, documents: list[Document]) -> tuple[list[Segment], np.ndarray]:
        """The candidate sentences, best hand-scored first, and their ranking features."""
        segments = sorted(self._segments(query, documents), key=lambda s: -s.score)
        grounded = [self.gap(query, seg, segments, documents) is None for seg in segments]
        return segments, sentence_rows(query, segments, documents, grounded)

    def question_features(self, query: Query, segments: list[Segment], logits: np.ndarray, rows: np.ndarray, documents: list[Document]) -> np.ndarray:
        """Features of the question's best candidate (segments sorted by `logits`) for the decliner."""
        doc = documents[segments[0].rank]
        context = compact(doc.page_content + doc.metadata.get("section", "") + doc.metadata.get("title", ""))
        missing_anchors = sum(a not in context for a in query.anchors)
        missing_numbers = sum(not _has_number(context, n) for n in query.numbers)
        by_hand = max(range(len(segments)), key=lambda i: rows[i][0])  # what the rules alone would quote
        hand_grounded = bool(rows[by_hand][SENTENCE_FEATURES.index("grounded")])
        return question_row(query, segments, logits, rows, documents, missing_anchors, missing_numbers, hand_grounded)

    def _learned(self, query: Query, documents: list[Document]) -> tuple[list[Segment], np.ndarray, np.ndarray, str | None]:
        """Candidates ordered by the trained ranker (with their features and logits), and why to
        decline when the decliner says so ("" when no rule can name the reason)."""
        segments, rows = self.candidates(query, documents)
        logits = self.model.ranker.logit(rows)
        order = np.argsort(-logits, kind="stable")
        # the learned order picks the sentence to quote; each keeps its hand-written score, by which
        # the composition decides what else to quote beside it (measured on the cross-fitted
        # training questions: 0.846 of answers hold every must_include string this way, 0.818
        # when the ranker's probabilities replace the scores)
        segments, rows, logits = [segments[i] for i in order], rows[order], logits[order]
        if self.decline == "rules":
            return self._grounded_first(query, segments, rows, logits, documents)
        if self.decline == "topic+rules":
            on_topic = documents[0].metadata.get(ON_TOPIC)
            if on_topic is not None and on_topic < self.model.topic_threshold:
                return segments, rows, logits, ""
            return self._grounded_first(query, segments, rows, logits, documents)
        answers = self.model.decliner.prob(self.question_features(query, segments, logits, rows, documents)[None, :])[0]
        if answers >= self.model.threshold:
            return segments, rows, logits, None
        return segments, rows, logits, self.gap(query, segments[0], segments, documents) or ""

    def _grounded_first(
        self, query: Query, segments: list[Segment], rows: np.ndarray, logits: np.ndarray, documents: list[Document]
    ) -> tuple[list[Segment], np.ndarray, np.ndarray, str | None]:
        """The best candidate whose passage holds what the question names, moved to the front."""
        best, missing = 0, self.gap(query, segments[0], segments, documents)
        for i, seg in enumerate(segments[1:], 1):
            if not missing or missing == AIM_ONLY or seg.score < self.runner_up * segments[0].score:
                break
            if self.gap(query, seg, segments, documents) is None:
                best, missing = i, None
        order = [best] + [i for i in range(len(segments)) if i != best]
        return [segments[i] for i in order], rows[order], logits[order], missing

    def companions(self, query: Query, segments: list[Segment], rows: np.ndarray, logits: np.ndarray) -> list[Segment]:
        """The neighbours of the best candidate (segments[0]) the companion model would quote beside it."""
        if self.model is None or self.model.companion is None:
            return []
        near = described_neighbours(segments[0], segments, rows, logits)
        if not near:
            return []
        probs = self.model.companion.prob(pair_rows(query, segments[0], float(logits[0]), near))
        return [seg for (_, seg, _, _), p in zip(near, probs) if p >= self.model.companion_threshold]

    def answer(self, question: str, query: Query, documents: list[Document]) -> Answer:
        passages = [_passage(doc) for doc in documents]
        if not query.terms or not documents:
            return self._decline(question, "报告中没有与这个问题对得上的段落", passages)
        if self.model is not None:
            segments, rows, logits, missing = self._learned(query, documents)
            if missing is not None:
                return self._decline(question, missing, passages)
            companions = self.companions(query, segments, rows, logits)
            return self._quote(question, query, segments[0], segments, documents, passages, companions)
        segments = sorted(self._segments(query, documents), key=lambda s: -s.score)
        # the best-scored sentence whose passage holds what the question names; a close
        # runner-up may be the grounded one (the passage with 「300 亿元」 ranked third)
        best, missing = segments[0], self.gap(query, segments[0], segments, documents)
        exact = bool(query.numbers)  # a number the question names is evidence enough to look further
        for seg in segments[1:]:
            if not missing or missing == AIM_ONLY or (not exact and seg.score < self.runner_up * segments[0].score):
                break  # (the sentence that matches best only sets the aim: no other one says it came true)
            if self.gap(query, seg, segments, documents) is None:
                best, missing = seg, None
        if missing:
            return self._decline(question, missing, passages)
        return self._quote(question, query, best, segments, documents, passages)

    def _decline(self, question: str, missing: str, passages: list[Passage]) -> Answer:
        text = f"报告中没有找到能回答这个问题的内容（{missing}）。" if missing else "报告中没有找到能回答这个问题的内容。"
        if self.scope:
            text += f"我只回答{self.scope}"
        return Answer(question=question, answer=text, answerable=False, retrieved=passages)

    def _quote(
        self, question: str, query: Query, best: Segment, segments: list[Segment], documents: list[Document],
        passages: list[Passage], companions: list[Segment] = (),
    ) -> Answer:
        """The answer that quotes `best` and what completes it (beside the rules' choices, the
        `companions` the learned model picked, as far as the budget goes; a long one by its
        first clause)."""
        budget = self._budget(query)
        item, heading = _numbered_item(query, segments, documents, budget)
        if item:
            return _compose(question, item, documents, passages, heading=heading)
        titles, quoted, heading = _outline_items(query, best, segments, documents) if query.kind == "list" else ([], None, "")
        if titles and quoted is not None:
            return _compose(question, [quoted], documents, passages, heading=heading, items=titles)
        if query.kind == "list" and (items := _parallel_labels(best, segments)):
            return _compose(question, items, documents, passages)
        top = _ranking_end(query, segments) if query.extreme else []
        if top and self.gap(query, top[0], segments, documents) is None:
            return _compose(question, top, documents, passages)
        chosen = [best]
        for seg in segments:
            if seg is best:
                continue
            if len(chosen) >= 3 or seg.score < 0.85 * best.score:
                break
            if sum(len(c.text) for c in chosen) + len(seg.text) > budget:
                continue
            if not all(_has_number(seg.text, n) for n in query.numbers):
                continue  # the number named is the question's constraint; a sentence without it is noise
            covered = set().union(*(c.covered for c in chosen))
            gain = sum(query.terms[t] for t in seg.covered - covered)
            if gain >= 0.15 * query.total:  # it answers a part of the question the others do not
                chosen.append(seg)
        for seg in companions:
            room = budget - sum(len(c.text) for c in chosen)
            seg = seg if len(seg.text) <= room else _head_clause(seg)
            if len(seg.text) <= room and not any(_overlap(seg, c) for c in chosen):
                chosen.append(seg)
        chosen += _leaned_on(query, chosen, segments, budget)
        # complete each quoted sentence that opens a list or is a heading, right after it
        anchors = sorted(chosen, key=lambda s: (s.rank, s.start))
        quoted: list[Segment] = []
        for i, seg in enumerate(anchors):
            if any(_overlap(seg, q) for q in quoted):  # an item of a list quoted before it
                continue
            room = budget - sum(len(s.text) for s in quoted + anchors[i + 1 :])
            rest = _continuation(seg, segments, room)
            quoted += [seg] + [s for s in rest if not any(_overlap(s, q) for q in quoted)]
        return _compose(question, quoted, documents, passages)


def _leaned_on(query: Query, chosen: list[Segment], segments: list[Segment], budget: int) -> list[Segment]:
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


def neighbours(best: Segment, segments: list[Segment]) -> list[tuple[int, Segment]]:
    """The candidates around `best` in reading order, with their offset from it: a few before it
    in its passage, and after it the rest of its passage and the passages that continue it."""
    same = sorted((s for s in segments if s.rank == best.rank), key=lambda s: s.start)
    at = same.index(best)
    before = [(i - at, s) for i, s in enumerate(same) if -NEIGHBOURS_BEFORE <= i - at < 0 and s.text != best.text]
    after = [s for s in _following(best, segments) if s.text != best.text][:NEIGHBOURS_AFTER]
    return before + [(k, s) for k, s in enumerate(after, 1)]


def described_neighbours(
    best: Segment, segments: list[Segment], rows: np.ndarray, logits: np.ndarray
) -> list[tuple[int, Segment, np.ndarray, float]]:
    """`neighbours` of `best`, each with its sentence features and ranker logit (rows and logits
    line up with `segments`): what the companion model reads, at answering and at tuning."""
    at = {id(seg): i for i, seg in enumerate(segments)}
    return [(offset, seg, rows[at[id(seg)]], float(logits[at[id(seg)]])) for offset, seg in neighbours(best, segments)]


def _beside(seg: Segment, segments: list[Segment], step: int) -> Segment | None:
    """The sentence before (step -1) or after (+1) `seg` in its passage."""
    same = sorted((s for s in segments if s.rank == seg.rank), key=lambda s: s.start)
    at = same.index(seg) + step
    return same[at] if 0 <= at < len(same) else None


def _ranking_end(query: Query, segments: list[Segment]) -> list[Segment]:
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


def _said_of(query: Query, text: str) -> bool:
    """The asked figure follows a name of the question closely (「绍兴 58 个」), so it is that
    name's figure, not one of a sentence that mentions the name in passing (「绍兴轻纺产业集群等 29 个」)."""
    if not query.anchors:
        return False
    names = "|".join(re.escape(a) for a in sorted(query.anchors, key=len, reverse=True))
    return re.search(rf"(?:{names})[^，。；：、,;:\d]{{0,4}}?{_figure(query.unit)}", text) is not None


def _has_number(text: str, number: str) -> bool:
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


def _continuation(best: Segment, segments: list[Segment], budget: int) -> list[Segment]:
    """What completes `best` in its passage: the items of a list it opens (一是… 二是…, a lead-in
    ending in ：), or the text under a numbered heading it quotes. A heading alone answers nothing.

    An item marked 二是/三是 may sit a sentence or two further on (an explanation in between is
    passed over), and an item too long for the budget is quoted up to its first comma."""
    after = _following(best, segments)
    heading = bool(_HEADING.match(best.text)) and len(best.text) <= 40
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
            seg = _head_clause(seg)
            if not only_a_list or used + len(seg.text) > budget:
                break
        taken.append(seg)
        used += len(seg.text)
    return taken


def _overlap(a: Segment, b: Segment) -> bool:
    return a.rank == b.rank and a.start < b.end and b.start < a.end


def _following(best: Segment, segments: list[Segment]) -> list[Segment]:
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


def _from_mark(seg: Segment) -> Segment | None:
    """The part of `seg` from an item mark after a clause break (「…困难；三是市场压力。」)."""
    mark = MARK_INSIDE.search(seg.text)
    return replace(seg, start=seg.start + mark.start(1), text=seg.text[mark.start(1) :]) if mark else None


def _head_clause(seg: Segment) -> Segment:
    """`seg` up to its first comma: 「二是要构筑跨区域的服务支撑体系，」 names the item."""
    cut = re.search(r"[，,；;：:]", seg.text)
    return replace(seg, end=seg.start + cut.end(), text=seg.text[: cut.end()]) if cut else seg


def _parallel_labels(best: Segment, segments: list[Segment]) -> list[Segment]:
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


def _passage(doc: Document) -> Passage:
    m = doc.metadata
    return Passage(
        chunk_id=m["chunk_id"], source=m["source"], title=m.get("title", ""),
        section=m.get("section", ""), text=doc.page_content, score=round(float(m.get("score", 0.0)), 4),
    )


def _ending(text: str) -> str:
    return re.sub(r"[；;，,、：:]$", "。", text)


def _adjacent(seg: Segment, nxt: Segment, documents: list[Document]) -> bool:
    """`nxt` follows `seg` in the same passage with nothing but spaces between them."""
    if nxt.rank != seg.rank or nxt.start < seg.end:
        return False
    return not documents[seg.rank].page_content[seg.end : nxt.start].strip()


def _heading(doc: Document) -> str:
    return doc.metadata.get("section", "").rpartition(PATH_SEPARATOR)[2]


def _numbered_item(
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
    heading = _heading(documents[0])
    if heading_number(heading) != n or not top:
        return [], ""
    example = next((s for s in top if EXAMPLE.search(s.text)), None) if query.example else None
    if example is not None:  # 「第二点…有啥具体例子」: the example the item gives
        return [example], heading
    opening = top[:2] if compact(top[0].text).startswith(compact(heading)) else top[:1]
    return opening, heading


def _outline_items(query: Query, best: Segment, segments: list[Segment], documents: list[Document]) -> tuple[list[str], Segment | None, str]:
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
        coverage = title_coverage(query, _heading(doc))
        if (titles := listable(doc)) and coverage >= NAMED_SECTION:
            named.append((-coverage, rank, titles))
    _, rank, titles = min(named, default=(0.0, 0, []))
    if titles and best.text.count("、") + 1 < len(titles):
        opening = min((s for s in segments if s.rank == rank), key=lambda s: s.start)
        return titles, opening, _heading(documents[rank])
    titles = listable(documents[best.rank])
    if titles and _OPENS_OUTLINE.search(best.text) and len(best.text) + sum(map(len, titles)) <= MAX_ANSWER_CHARS - 30:
        return titles, best, ""
    return [], None, ""


def _compose(
    question: str, chosen: list[Segment], documents: list[Document], passages: list[Passage], heading: str = "",
    items: list[str] | None = None,
) -> Answer:
    """The quoted sentences with their citations. Section titles, themselves quoted from the
    report, may join them: `heading` leads when the answer is a numbered item of the outline,
    and `items` (the sub-section titles of the last sentence's section) follow it as a list."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    if items and heading:  # the section's title and its items: no sentence of the passage is quoted
        p = passages[chosen[0].rank]
        text = f"{heading}：{'；'.join(items)}。[1]"
        return Answer(question=question, answer=text, answerable=True, citations=[Citation(n=1, **p.model_dump())], retrieved=passages)
    parts: list[str] = [f"{heading}：" if heading and not compact(chosen[0].text).startswith(compact(heading)) else ""]
    in_run = False
    for i, seg in enumerate(chosen):
        if seg.rank not in numbers:
            numbers[seg.rank] = len(numbers) + 1
            p = passages[seg.rank]
            citations.append(Citation(n=numbers[seg.rank], **p.model_dump()))
        citations[numbers[seg.rank] - 1].highlights.append((seg.start, seg.end))
        # a run of adjacent sentences is quoted as it stands and cited once, after its last sentence
        text = seg.text.strip() if in_run else _LEAD.sub("", seg.text.strip()).strip()
        in_run = i + 1 < len(chosen) and _adjacent(seg, chosen[i + 1], documents)
        if items and i == len(chosen) - 1:
            text = re.sub(r"[。；;，,：:]$", "", text) + "：" + "；".join(items) + "。"
        parts.append(text if in_run else _ending(text) + f"[{numbers[seg.rank]}]")
    return Answer(question=question, answer="".join(parts), answerable=True, citations=citations, retrieved=passages)


