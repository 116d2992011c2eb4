"""Which words name a place: China's administrative areas (cpca's data) by full or short name,
and the countries and world regions in data/countries.txt.

A question about a place the report never names (江苏, 苏州市) is one it cannot answer, so such
a name must be in the answering passage. jieba's dictionary tags many common words as places
(扎堆, 大都, 东西, 英雄); those are just how people talk, and must not make the answer decline.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

# longest first: 广西壮族自治区 → 广西, 苏州市 → 苏州
_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "自治县", "地区", "省", "市", "县", "区", "盟", "旗")
# a name of three or more characters that ends the way places do (深圳市, 山东省, 日本国)
_PLACE_ENDING = re.compile(r"^.{2,}(?:省|市|县|区|州|镇|乡|村|岛|湾|港|国)$")


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    spec = importlib.util.find_spec("cpca")  # its data file, without importing cpca (and pandas)
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    table = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
    names: set[str] = set()
    with open(table, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = row["name"]
            names.add(name)
            suffix = next((s for s in _SUFFIXES if name.endswith(s)), "")
            if suffix and len(name) - len(suffix) >= 2:
                names.add(name[: -len(suffix)])
    return frozenset(names)


@lru_cache(maxsize=1)
def _abroad() -> frozenset[str]:
    from importlib import resources

    text = resources.files("assistant.data").joinpath("countries.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def is_place(word: str) -> bool:
    return word in _names() or word in _abroad() or bool(_PLACE_ENDING.match(word))
