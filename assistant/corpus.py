"""Find and read the documents of a corpus folder.

Every document keeps its exact source text and a content hash, so citations can point
back into the original bytes and indexing can tell which files changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from assistant.errors import UserError


@dataclass(frozen=True)
class SourceDocument:
    name: str  # path relative to the corpus folder, with forward slashes
    text: str
    sha256: str


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return path.read_text(encoding="gb18030")


READERS: dict[str, Callable[[Path], str]] = {".md": _read_text, ".markdown": _read_text, ".txt": _read_text}


def corpus_files(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise UserError(f"corpus folder not found: {corpus_dir}")
    return sorted(
        p for p in corpus_dir.rglob("*")
        if p.is_file() and p.suffix.lower() in READERS and not p.name.startswith(".")
    )


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_document(corpus_dir: Path, path: Path) -> SourceDocument:
    text = READERS[path.suffix.lower()](path)
    return SourceDocument(
        name=path.relative_to(corpus_dir).as_posix(),
        text=text,
        sha256=file_digest(path),
    )
