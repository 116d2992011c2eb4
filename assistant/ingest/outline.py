"""Recover a report's real outline from its numbering, not from its markdown levels.

Chinese reports number their levels 一、 › （一） › 1、/1. › 2.1; the markdown around them
is often wrong (`## 2.1` beside `#### 1、`, bold lines, bare lines). Depth therefore comes
from the numbering scheme. A numbered paragraph that carries its own body (a bold lead-in
such as `**3.1 …。**正文`, or `1、清洁生产。正文…`) becomes a section titled by its lead-in.
Text that matches no scheme falls back to markdown levels, and a document with no usable
headings degrades to a single section (paragraph chunking).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.ingest.clean import Paragraph

_SCHEMES: list[tuple[int, re.Pattern[str]]] = [
    (1, re.compile(r"^[一二三四五六七八九十]+、")),
    (2, re.compile(r"^[（(][一二三四五六七八九十]+[)）]")),
    (4, re.compile(r"^\d+[.．]\d+(?!\d)")),
    (3, re.compile(r"^\d+(?:、|[.．](?!\d))")),
]
MAX_TITLE_CHARS = 40
_TRAILING_NOTE = re.compile(r"\s+[（(][^（()）]*[)）]$")


@dataclass
class Section:
    title: str
    depth: int
    parent: "Section | None" = None
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def path(self) -> tuple[str, ...]:
        """Titles from the top level down; the document root itself is not part of a path."""
        node: Section | None = self
        titles: list[str] = []
        while node is not None and node.depth > 0:
            titles.append(node.title)
            node = node.parent
        return tuple(reversed(titles))


@dataclass
class Outline:
    title: str
    sections: list[Section]  # document order; sections[0] is the root (depth 0)
    structured: bool  # False when no numbering or headings were found

    def headings(self) -> list[tuple[int, str, str]]:
        """(depth, title, parent title) for every heading: the recovered outline as data."""
        return [(s.depth, s.title, s.parent.title if s.parent else "") for s in self.sections[1:]]


# how a heading numbers itself among its siblings: 3、 3. （三） 三、 2.3 (the 3 under 2)
_LABEL = re.compile(r"^\s*(?:\d+[.．](\d+)|(\d+)\s*[、.．]|[（(]([一二三四五六七八九十]+)[）)]|([一二三四五六七八九十]+)、)")
# 「第三条」「第2点」「第二个问题」: an item of a numbered outline, asked for by its number
# (「第三个行业」 counts the items of an answer, not of the outline)
ORDINAL = re.compile(
    r"第\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*"
    r"(?:条|点|项|部分|方面|节|章|大|个?(?:问题|建议|措施|对策|特点|原因|做法|途径|方面)|个(?=[是呢吗讲说，,？?]|$))"
)


def heading_number(title: str) -> int | None:
    """The number a heading gives itself among its siblings (「3、我省…」 → 3), if any."""
    label = _LABEL.match(title)
    return _as_int(next(g for g in label.groups() if g)) if label else None


def asked_item(question: str) -> int | None:
    """Which numbered item a question asks for (「第三条是啥」 → 3), if any."""
    asked = ORDINAL.search(question)
    return _as_int(asked.group(1)) if asked else None


@lru_cache(maxsize=64)
def item_mark(n: int) -> re.Pattern[str]:
    """How running text marks its n-th item: 二是, 第二，, 其二, （2）, ②."""
    import cn2an

    cn = cn2an.an2cn(str(n))
    circled = f"|{chr(0x2460 + n - 1)}" if 1 <= n <= 20 else ""
    return re.compile(rf"{cn}是|第{cn}[，,、]|其{cn}[，,、]|[（(]{n}[）)]{circled}")


def _as_int(numeral: str) -> int:
    import cn2an

    return int(numeral) if numeral.isdigit() else int(cn2an.cn2an(numeral, "smart"))


def numbering_depth(text: str) -> int:
    for depth, pattern in _SCHEMES:
        if pattern.match(text):
            return depth
    return 0


def _normalise_title(text: str) -> str:
    text = _TRAILING_NOTE.sub("", text.strip())
    text = re.sub(r"^\(([一二三四五六七八九十]+)\)", r"（\1）", text)
    text = re.sub(r"\s+", " ", text)
    return text.rstrip("。：:；; ")


def _lead_in_title(paragraph: Paragraph) -> str:
    """The title of a numbered paragraph that carries its own body."""
    if paragraph.bold_lead:
        return _normalise_title(paragraph.bold_lead)
    text = paragraph.text
    first = re.split(r"[。！？；：]", text, maxsplit=1)[0]
    if len(first) > MAX_TITLE_CHARS:
        first = re.split(r"[，,]", first, maxsplit=1)[0]
    return _normalise_title(first[: MAX_TITLE_CHARS * 2])


def _classify(paragraph: Paragraph) -> tuple[int, str, bool]:
    """(depth, title, carries_body) when the paragraph opens a section, else (0, '', False)."""
    text = paragraph.text
    depth = numbering_depth(text)
    short = len(_normalise_title(text)) <= MAX_TITLE_CHARS and not text.rstrip().endswith("。")
    if depth:
        if (paragraph.md_level or paragraph.bold or not paragraph.bold_lead) and short:
            return depth, _normalise_title(text), False
        return depth, _lead_in_title(paragraph), True
    if paragraph.md_level and short:
        return paragraph.md_level, _normalise_title(text), False
    return 0, "", False


def recover_outline(paragraphs: list[Paragraph], fallback_title: str) -> Outline:
    body = list(paragraphs)
    title = fallback_title
    if body and body[0].md_level == 1 and not numbering_depth(body[0].text):
        title = _normalise_title(body.pop(0).text)
    root = Section(title=title, depth=0)
    sections = [root]
    stack: list[Section] = [root]
    for paragraph in body:
        depth, heading, carries_body = _classify(paragraph)
        if not depth:
            stack[-1].paragraphs.append(paragraph)
            continue
        while stack[-1].depth >= depth:
            stack.pop()
        section = Section(title=heading, depth=depth, parent=stack[-1])
        if carries_body:
            section.paragraphs.append(paragraph)
        sections.append(section)
        stack.append(section)
    return Outline(title=title, sections=sections, structured=len(sections) > 1)
