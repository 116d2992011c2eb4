"""The words by which the report's sentences announce a cause, a remedy or an example, and
open or continue a list: the composition rules and the companion model both read them."""

from __future__ import annotations

import re

EXAMPLE = re.compile(r"例如|比如|譬如|如[^果何今此下同]|为例|典型")
CAUSE = re.compile(r"因为|由于|因而|所以|从而|导致|因此|使得|造成|原因")
REMEDY = re.compile(r"必须|应当|应该|建议|需要|亟需|加快|加强|推进|建立|完善|(?<![主重需])要(?![素求])")
# a sentence that opens a list, the items that continue it, and a numbered heading
LISTS = re.compile(r"[、；;：:]|一是|首先|其一|[（(]1[）)]|①|和|及|与")
NUMBERED = re.compile(r"一是|第一[，,、]|首先|其一|[（(]1[）)]|①")
LIST_OPENS = re.compile(rf"{NUMBERED.pattern}|[：:]\s*$")
ITEM_MARK = r"(?:[二三四五六七八九十]是|第[二三四五六七八九十][，,、]|其[二三四五]|其次|再次|最后|[（(]\d+[）)]|[②③④⑤⑥⑦⑧⑨])"
LIST_GOES_ON = re.compile(rf"^\s*{ITEM_MARK}")
MARK_INSIDE = re.compile(rf"[；;。]\s*({ITEM_MARK})")
