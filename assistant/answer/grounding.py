"""Declining: what the passage that would answer lacks (the question's rarest words, its names,
its numbers, the kind of figure asked for), said in a few words, and the answer that says so."""

from __future__ import annotations

import re

from langchain_core.documents import Document

from assistant.answer.completion import continuation
from assistant.answer.markers import LISTS
from assistant.answer.query import FOUNDING, Query
from assistant.answer.segments import Segment, holds_number
from assistant.answer_models import Answer, Passage
from assistant.ingest.normalize import compact

_AIM = re.compile(r"力争|争取|目标|预计|确保|力求|计划到|规划到")
_DONE = re.compile(r"已经|已[经有达实完建]|实现了|达到了|完成了|建成了")
AIM_ONLY = "报告只提出了这个目标，没有说是否已经实现"


def passage_gap(query: Query, best: Segment, segments: list[Segment], documents: list[Document], min_coverage: float, budget: int) -> str | None:
    """What the answering passage lacks (the question's rarest words, its names, its numbers,
    the kind of figure asked for), said in a few words for the decline; None when grounded."""
    doc = documents[best.rank]
    # the document's title counts: 「浙江」 need not be repeated in every passage of a Zhejiang report
    context = compact(doc.page_content + doc.metadata.get("section", "") + doc.metadata.get("title", ""))
    missing_names = sorted(a for a in query.anchors if a not in context)
    if missing_names:
        return f"报告没有提到「{'、'.join(missing_names)}」"
    missing_numbers = [n for n in query.numbers if not holds_number(context, n)]
    if missing_numbers:
        return f"报告没有与「{'、'.join(missing_numbers)}」对应的内容"
    # a number the question names (all are in the passage by now) is as telling as its
    # rarest word: 「三百亿元以上的有几个」 is answered by 「300 亿元以上的 7 个」 in other words
    numbers = [max(query.terms.values(), default=1.0)] * len(query.numbers)
    shared = [w for t, w in query.terms.items() if t in context] + numbers
    if sum(shared) / (query.total + sum(numbers)) < min_coverage:
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
    quoted = best.text + "".join(s.text for s in continuation(best, segments, budget))
    if query.kind == "list" and best.has_number and not LISTS.search(quoted):
        return "报告提到了相关内容，但没有列出这些项"  # 舟山's count is no list of its industries
    if query.unit_required and not best.has_unit:
        return "报告提到了相关内容，但没有给出这一类数字"  # a count where money was asked, say
    if query.founding and not FOUNDING.search(best.text):
        return "报告提到了相关内容，但没有说它是哪一年建立的"
    if query.outcome and _AIM.search(best.text) and not _DONE.search(best.text):
        return AIM_ONLY
    return None


def declined(question: str, missing: str, passages: list[Passage], scope: str) -> Answer:
    """The answer that declines, saying what is missing and what the assistant answers."""
    text = f"报告中没有找到能回答这个问题的内容（{missing}）。" if missing else "报告中没有找到能回答这个问题的内容。"
    if scope:
        text += f"我只回答{scope}"
    return Answer(question=question, answer=text, answerable=False, retrieved=passages)
