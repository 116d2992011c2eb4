"""A conversation as a Markdown file and a Word file, for pasting replies into a briefing.

Each turn is the question, then the reply as `reply.reply_blocks` gives it (the same answer and
numbered sources with section paths that 复制回答 and the OpenAI API give), so every text form
of a reply says the same thing. Questions and report text are always text: Markdown escapes
every character that could start markup, and Word gets plain runs (python-docx writes XML-escaped
text), without the characters XML cannot hold.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from assistant.answer.reply import SOURCES_HEADING, reply_blocks
from assistant.answer_models import Answer

EXPORT_TITLE = "问答记录"
# ASCII punctuation that can start inline markup anywhere in a line (CommonMark escapes all of it)
_MD_INLINE = re.compile(r"([\\`*_\[\]{}()<>#+!|~&])")
# what can start a block at the start of a line: lists, quotes, headings, rules, numbered items
_MD_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+(?=\.))")
# characters XML 1.0 cannot hold (controls, lone surrogates, U+FFFE/U+FFFF): lxml refuses them
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def md_escape(text: str) -> str:
    """`text` as Markdown that renders as exactly this text (one paragraph per line)."""
    text = _MD_INLINE.sub(r"\\\1", text)  # ")" of 「1)」 included
    return _MD_LINE_START.sub(lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2)[0].isdigit() else "\\" + m.group(2)), text)


def _lines(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines() if line.strip()]


def conversation_markdown(answers: list[Answer], when: datetime) -> str:
    """The conversation as Markdown: a heading per question, the answer's lines as paragraphs,
    then its numbered sources as a list."""
    out = [f"# {EXPORT_TITLE}", f"导出时间：{when:%Y-%m-%d %H:%M}"]
    for turn, answer in enumerate(answers, 1):
        body, sources = reply_blocks(answer)
        out.append(f"## {turn}. 问：{md_escape(' '.join(_lines(answer.question)))}")
        out += [md_escape(line) for block in body for line in _lines(block)]
        if sources:
            out.append(f"**{SOURCES_HEADING}**")
            out.append("\n".join(f"- {md_escape(line)}" for line in sources))
    return "\n\n".join(out) + "\n"


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def conversation_docx(answers: list[Answer], when: datetime, path: Path) -> Path:
    """The conversation as a Word document at `path`: a heading per question, the answer, then
    one paragraph per numbered source (its [n] in bold), each one pasteable on its own."""
    from docx import Document

    document = Document()
    document.add_heading(EXPORT_TITLE, level=1)
    document.add_paragraph(f"导出时间：{when:%Y-%m-%d %H:%M}")
    for turn, answer in enumerate(answers, 1):
        body, sources = reply_blocks(answer)
        document.add_heading(_xml_text(f"{turn}. 问：{' '.join(_lines(answer.question))}"), level=2)
        for line in (line for block in body for line in _lines(block)):
            document.add_paragraph(_xml_text(line))
        if sources:
            document.add_paragraph().add_run(SOURCES_HEADING).bold = True
            for citation, line in zip(answer.citations, sources):
                number = f"[{citation.n}]"
                paragraph = document.add_paragraph()
                paragraph.add_run(number).bold = True
                paragraph.add_run(_xml_text(line.removeprefix(number)))
    document.save(path)
    return path


def write_exports(answers: list[Answer], folder: Path, when: datetime) -> tuple[Path, Path]:
    """Both files for the conversation so far, in `folder` (each conversation has its own)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{EXPORT_TITLE}-{when:%Y%m%d-%H%M}"
    for old in folder.iterdir():  # one pair per conversation: the previous export is superseded
        old.unlink(missing_ok=True)
    markdown = folder / f"{stem}.md"
    markdown.write_text(conversation_markdown(answers, when), encoding="utf-8")
    return markdown, conversation_docx(answers, when, folder / f"{stem}.docx")
