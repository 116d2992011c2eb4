"""Turn raw report text into paragraphs that remember where every character came from.

The source markdown is unreliable: page breaks split sentences across blank lines and
bold markers wrap headings and lead-ins. Cleaning joins the broken pieces and strips the
markers, while a per-character offset map keeps the original text recoverable for citations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SENTENCE_END = "。！？!?；;：:…"
CLOSERS = "”’\"'）)》」』】"
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+")
_NUMBERED_START = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）]|\d+(?:[、.．](?!\d)|[.．]\d+(?!\d)))"
)


@dataclass
class Paragraph:
    """One logical paragraph: `text` is clean, `offsets[i]` is the source index of `text[i]`."""

    text: str
    offsets: list[int]
    md_level: int = 0  # markdown heading level of the source line, 0 for body text
    bold: bool = False  # the whole source line was wrapped in **…**
    bold_lead: str = ""  # a leading **…** run followed by more text
    raw_lines: list[str] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.offsets[0]

    @property
    def end(self) -> int:
        return self.offsets[-1] + 1

    def span_offsets(self, start: int, end: int) -> tuple[int, int]:
        """Source offsets of `text[start:end]`."""
        return self.offsets[start], self.offsets[end - 1] + 1


def _clean_line(line: str, line_start: int) -> tuple[str, list[int], int, bool, str]:
    """Strip markdown heading marks and bold markers, keeping each kept char's source offset."""
    level = 0
    pos = 0
    m = _MD_HEADING.match(line)
    if m:
        level = len(m.group(1))
        pos = m.end()
    body = line[pos:]
    stripped = body.strip()
    whole_bold = len(stripped) > 4 and stripped.startswith("**") and stripped.endswith("**") and stripped.count("**") == 2
    lead = ""
    lead_match = re.match(r"\s*\*\*(.+?)\*\*(?=\s*\S)", body)
    if lead_match and not whole_bold:
        lead = lead_match.group(1).strip()
    chars: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(body):
        if body.startswith("**", i):
            i += 2
            continue
        chars.append(body[i])
        offsets.append(line_start + pos + i)
        i += 1
    text = "".join(chars)
    # trim surrounding whitespace together with its offsets
    left = len(text) - len(text.lstrip())
    right = len(text.rstrip())
    return text[left:right], offsets[left:right], level, whole_bold, lead


def ends_sentence(text: str) -> bool:
    tail = text.rstrip(CLOSERS + " ")
    return not tail or tail[-1] in SENTENCE_END


def looks_like_heading_start(text: str) -> bool:
    return bool(_NUMBERED_START.match(text))


def paragraphs(source: str) -> list[Paragraph]:
    """Split source text into paragraphs, joining pieces broken by page breaks.

    A body line that does not end a sentence continues into the next body line unless that
    line is a heading or starts a numbered item.
    """
    result: list[Paragraph] = []
    open_para: Paragraph | None = None
    offset = 0
    for line in source.splitlines(keepends=True):
        line_start = offset
        offset += len(line)
        text, offs, level, bold, lead = _clean_line(line.rstrip("\r\n"), line_start)
        if not text:
            continue
        starts_item = level > 0 or bold or bool(lead) or looks_like_heading_start(text)
        if open_para is not None and not starts_item:
            joiner = " " if open_para.text[-1].isascii() and text[0].isascii() else ""
            if joiner:
                open_para.offsets.append(open_para.offsets[-1] + 1)
            open_para.text += joiner + text
            open_para.offsets.extend(offs)
            open_para.raw_lines.append(line)
        else:
            open_para = Paragraph(text, list(offs), level, bold, lead, [line])
            result.append(open_para)
        if level > 0 or bold or ends_sentence(open_para.text):
            open_para = None
    return result
