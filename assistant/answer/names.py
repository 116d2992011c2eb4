"""Which words jieba tags as names really name a place or a person.

A question about a place or person the report never names (江苏, 苏州市) is one it cannot
answer, so such a name must be in the answering passage. But jieba's dictionary tags many
common words as places (扎堆, 大都, 东西, 英雄) or people (林子, 比一比); those are just how people
talk, and must not make the answer decline. Places: China's administrative areas (cpca's data)
by full or short name, and the countries and regions in data/countries.txt. People: a name that
starts with a common surname and is not a common word.
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
# (not 区: 沿海地区, 发达地区 are kinds of places; real districts are in the table)
_PLACE_ENDING = re.compile(r"^.{2,}(?:省|市|县|州|镇|乡|村|岛|国)$")
# the commonest Chinese surnames (general knowledge, like the stopword list)
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤鲁"
)


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


def short_name(word: str) -> str:
    """The name without its administrative suffix (嘉兴市 → 嘉兴, 山东省 → 山东): reports mostly
    write the short form, so a question's 嘉兴市 is about the report's 嘉兴."""
    suffix = next((s for s in _SUFFIXES if word.endswith(s)), "")
    return word[: -len(suffix)] if suffix and len(word) - len(suffix) >= 2 else word


def is_place(word: str) -> bool:
    return word in _names() or word in _abroad() or bool(_PLACE_ENDING.match(word))


def is_person(word: str, frequency: int) -> bool:
    """`frequency`: how common jieba's dictionary says the word is (林子 is a grove)."""
    return 2 <= len(word) <= 4 and word[0] in _SURNAMES and not (len(word) == 2 and frequency >= 100)
