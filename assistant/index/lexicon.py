"""The corpus's own vocabulary, found in the text, for jieba's user dictionary.

Reports coin terms (“一乡一品”, 台资企业, 产业集群专业区) that a general dictionary splits
apart; BM25 matches better when they stay whole. Terms are discovered from the corpus at
index time, never written into code.
"""

from __future__ import annotations

import re
from collections import Counter

_QUOTED = re.compile(r"[“「『\"]([\u4e00-\u9fffA-Za-z0-9]{2,8})[”」』\"]")
# the modifier never spans a 的: 「起步阶段的产业集群」 is a phrase, and as a dictionary word
# 「步阶段的产业集群」 would cut 起步 apart in every text that uses it
_COMPOUND = re.compile(r"(?:(?!的)[\u4e00-\u9fff]){2,4}(?:产业集群|企业|市场|产业带|工业区|集团|协会|商标|品牌)")


def corpus_terms(texts: list[str], min_count: int = 1) -> list[str]:
    """Quoted coinages, plus domain compounds (温台产业带, 台资企业) found in the corpus."""
    quoted: set[str] = set()
    compounds: Counter[str] = Counter()
    for text in texts:
        quoted.update(_QUOTED.findall(text))
        compounds.update(_COMPOUND.findall(text))
    recurring = {term for term, count in compounds.items() if count >= min_count}
    return sorted(quoted | recurring)
