"""Query normalisation: what an official types becomes what the report's text looks like.

Full-width forms and compatibility characters (NFKC), traditional → simplified (OpenCC),
Chinese numerals → Arabic digits where they count something (三百亿 → 300亿, 百分之三十 →
30%), leaving idioms and plan names (一乡一品, 十一五) alone.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
# a numeral run followed by something it counts, or preceded by 百分之
_COUNTED = re.compile(
    rf"(?<![{_CN_DIGITS}“\"「哪])([{_CN_DIGITS}]+(?:点[{_CN_DIGITS}]+)?)"
    r"(?=多?(?:个|家|件|种|年|亿|万|吨|元|倍|双|分钟|平方|公里|百分点|成|人|项|所|座|条|次|位|强|千伏|%))"
)
# 百分之三十 → 30%, but 百分之三十几 stays: a rough figure is no number to look for
_PERCENT = re.compile(rf"百分之([{_CN_DIGITS}]+(?:点[{_CN_DIGITS}]+)?)(?![{_CN_DIGITS}几多来余])")
_UNIT_ONLY = re.compile(r"^[万亿]+$")
_ZERO_ONLY = re.compile(r"^[零〇]+$")  # 零件 is a part, not 0 件
_DIGIT_BY_DIGIT = re.compile(r"^[〇零一二三四五六七八九]{2,}$")  # 二〇〇七, 〇八: read digit by digit
# 「07年」「08年」: a year written short, with its leading zero (「17年」 may be a duration)
_SHORT_YEAR = re.compile(r"(?<![\d.])0(\d)(?=\s*年)")
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[@-_])")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def _to_number(numeral: str) -> str | None:
    import cn2an

    if _UNIT_ONLY.match(numeral) or _ZERO_ONLY.match(numeral):
        return None
    if _DIGIT_BY_DIGIT.match(numeral):
        return "".join(str("〇一二三四五六七八九".find(ch) if ch != "零" else 0) for ch in numeral)
    # keep 万/亿 as units after the digits: 三百亿 → 300亿, as the report writes it
    unit = ""
    while numeral and numeral[-1] in "万亿" and len(numeral) > 1:
        unit = numeral[-1] + unit
        numeral = numeral[:-1]
    try:
        value = cn2an.cn2an(numeral, "smart")
    except (ValueError, KeyError):
        return None
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text + unit


def convert_numerals(text: str) -> str:
    def counted(m: re.Match[str]) -> str:
        return _to_number(m.group(1)) or m.group(0)

    def percent(m: re.Match[str]) -> str:
        number = _to_number(m.group(1))
        return f"{number}%" if number else m.group(0)

    return _SHORT_YEAR.sub(r"200\1", _COUNTED.sub(counted, _PERCENT.sub(percent, text)))


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


@lru_cache(maxsize=1)
def _aliases() -> list[tuple[str, list[str]]]:
    from importlib import resources

    rows = resources.files("assistant.data").joinpath("aliases.tsv").read_text(encoding="utf-8")
    table = []
    for line in rows.splitlines():
        if line.strip() and not line.startswith("#"):
            alias, wording = line.split("\t", 1)
            table.append((alias.strip(), [w.strip() for w in wording.split("|") if w.strip()]))
    return sorted(table, key=lambda row: -len(row[0]))


def apply_aliases(text: str) -> str:
    """Replace common paraphrases with the report's wording (table in data/aliases.tsv)."""
    extra: list[str] = []
    for alias, wording in _aliases():
        if alias in text:
            text = text.replace(alias, wording[0])
            extra.extend(w for w in wording[1:] if w not in text)
    return " ".join([text, *extra]) if extra else text


def strip_invisible(text: str) -> str:
    """Drop ANSI escapes and control, format and lone-surrogate characters (newlines and tabs
    stay): what a terminal paste adds, and what no edge could print or serialise."""
    text = _ANSI.sub("", text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")


def normalize_query(text: str) -> str:
    text = strip_invisible(unicodedata.normalize("NFKC", text))
    text = re.sub(r"\s+", " ", text).strip()
    return apply_aliases(convert_numerals(to_simplified(text)))


def compact(text: str) -> str:
    """NFKC with all whitespace removed: how answers are compared with expected strings."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
