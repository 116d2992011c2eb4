"""Find and read the documents of a corpus folder.

Every document keeps its exact source text and a content hash, so citations can point
back into the original bytes and indexing can tell which files changed. Markdown and plain
text are read as they are; PDF and Word files are rendered into the same markdown-like text
the cleaner understands (a `# 标题` line, `##` headings, one line per paragraph), so every
format goes through one cleaning, outline and chunking path.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from assistant.errors import UserError
from assistant.ingest.clean import ends_sentence, looks_like_heading_start


@dataclass(frozen=True)
class SourceDocument:
    name: str  # path relative to the corpus folder, with forward slashes
    text: str
    sha256: str


class UnreadableDocumentError(UserError):
    """One file of the corpus cannot be read; indexing skips it with a warning."""


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise UnreadableDocumentError("not UTF-8 or GB18030 text (a binary file?)")


# a line that is only a page number: "12", "- 12 -", "第 12 页", "12 / 40"
_PAGE_NUMBER = re.compile(r"^\s*(?:[-–—]?\s*\d{1,4}\s*[-–—]?|第\s*\d{1,4}\s*页(?:\s*[/／共]\s*\d{1,4}\s*页?)?|\d{1,4}\s*/\s*\d{1,4})\s*$")


def _with_title(title: str | None, lines: list[str]) -> list[str]:
    """Mark the document title as a `# ` line: the first line when it is the title, else a new one."""
    title = (title or "").strip()
    if not title:
        return lines
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].strip().lstrip("#").strip() == title:
        return lines[:first] + [f"# {title}"] + lines[first + 1 :]
    return [f"# {title}", ""] + lines


def _is_heading_line(line: str, full_width: int) -> bool:
    """A numbered line well short of the page width that ends no sentence: a heading, not a wrapped line."""
    return looks_like_heading_start(line) and not ends_sentence(line) and len(line) < 0.75 * full_width


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocumentError("the PDF is password-protected")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except UnreadableDocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds of error on a damaged file
        raise UnreadableDocumentError(f"not a readable PDF ({exc.__class__.__name__})") from None
    lines: list[str] = []
    for page in pages:
        page_lines = [line.strip() for line in page.splitlines() if not _PAGE_NUMBER.match(line)]
        full_width = max((len(line) for line in page_lines), default=0)
        # a PDF has no paragraph marks: a heading line is marked, or the text below would join it
        lines.extend(f"## {line}" if _is_heading_line(line, full_width) else line for line in page_lines)
        lines.append("")
    if not any(line.strip() for line in lines):
        return ""
    return "\n".join(_with_title(title, lines))


def _docx_blocks(document) -> list[str]:
    """Paragraphs and table rows in body order, headings rendered as markdown."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = " ".join(cell.text.split())
                    if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                        cells.append(text)
                if cells:
                    lines.append("，".join(cells) + "。")
            continue
        assert isinstance(block, Paragraph)
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        level = re.fullmatch(r"(?i)heading\s*(\d)", style)
        if style.lower() == "title":
            lines.append(f"# {text}")
        elif level:
            lines.append("#" * min(6, int(level.group(1)) + 1) + f" {text}")
        elif all(run.bold for run in block.runs if run.text.strip()) and any(r.text.strip() for r in block.runs):
            lines.append(f"**{text}**")
        else:
            lines.append(text)
    return lines


def _read_docx(path: Path) -> str:
    import docx

    try:
        document = docx.Document(str(path))
        lines = _docx_blocks(document)
        title = document.core_properties.title
    except Exception as exc:  # zipfile, lxml and python-docx errors: a damaged or fake .docx
        raise UnreadableDocumentError(f"not a readable Word .docx file ({exc.__class__.__name__})") from None
    has_title_line = bool(lines) and lines[0].startswith("# ")
    return "\n".join(lines if has_title_line else _with_title(title, lines))


READERS: dict[str, Callable[[Path], str]] = {
    ".md": _read_text,
    ".markdown": _read_text,
    ".txt": _read_text,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}


def corpus_files(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise UserError(f"corpus folder not found: {corpus_dir}")
    return sorted(
        p for p in corpus_dir.rglob("*")
        if p.is_file() and p.suffix.lower() in READERS and not p.name.startswith((".", "~$"))
    )


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_document(corpus_dir: Path, path: Path) -> SourceDocument:
    """Read one file; raises UnreadableDocumentError (a UserError) when its format is broken."""
    text = READERS[path.suffix.lower()](path)
    return SourceDocument(
        name=path.relative_to(corpus_dir).as_posix(),
        text=text,
        sha256=file_digest(path),
    )
