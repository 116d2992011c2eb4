"""An index folder's layout: the answering build's pointer, build folders, manifests, locks.

Layout under the persist folder:

    CURRENT                 name of the build that answers queries (switched atomically)
    builds/<build_id>/      manifest.json, chunks.jsonl, tokens.jsonl, lexical/, hashing.json,
                            userdict.txt, chroma/ (or collection assistant-<build_id> on a server)

The manifest records which embedding built the index, the hash of every corpus file and of
every build file outside chroma/ (checked on open). One writer at a time per index folder
(`writer_lock`); every process that answers from a build holds a shared lock on it
(`hold_build`), so that pruning leaves that build alone.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pydantic import BaseModel

from assistant.errors import IndexDamaged, UserError
from assistant.index.embeddings import EmbeddingSpec
from assistant.ingest.chunk import Chunk
from assistant.settings import Settings

FORMAT_VERSION = 2  # 2: per-chunk tokens stored, so updates need not re-tokenise
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
TOKENS = "tokens.jsonl"
USERDICT = "userdict.txt"
HASHING_STATE = "hashing.json"
WRITER_LOCK = ".writer.lock"
READER_LOCK = ".readers.lock"
EMBEDDED = "embedded"


class DocumentEntry(BaseModel):
    sha256: str
    title: str
    chunks: int
    structured: bool
    warnings: list[str] = []


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    build_id: str
    built_at: str
    embedding: dict
    chunk_tokens: int
    collection: str
    vector_store: str = EMBEDDED  # or the Chroma server's http://host:port
    documents: dict[str, DocumentEntry]
    chunks: int
    files: dict[str, str] = {}  # every build file outside chroma/ → "size:sha256", checked on open
    fitted_chunks: int = 0  # chunks the vocabulary and hashing IDF were fitted on (last full build)
    updated_chunks: int = 0  # chunks added or removed by updates since that fit
    seconds: float = 0.0
    warnings: list[str] = []

    @property
    def embedding_spec(self) -> EmbeddingSpec:
        return EmbeddingSpec(**self.embedding)


def builds_folder(persist: Path) -> Path:
    return persist / "builds"


def current_build(persist: Path) -> Path | None:
    pointer = persist / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    if not re.fullmatch(r"[\w.-]+", name):
        return None  # a garbage pointer names no build; `assistant index` writes a fresh one
    build = builds_folder(persist) / name
    return build if (build / MANIFEST).is_file() else None


def manifest_at(build: Path) -> Manifest:
    try:
        return Manifest.model_validate_json((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexDamaged(f"manifest: {exc.__class__.__name__}") from None


def read_manifest(persist: Path) -> Manifest | None:
    build = current_build(persist)
    return None if build is None else manifest_at(build)


def vector_location(settings: Settings) -> str:
    """Where a build's vectors live; an index is only usable from the same place."""
    return f"http://{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_server else EMBEDDED


@contextmanager
def writer_lock(persist: Path, wait: bool = True) -> Iterator[None]:
    """One writer at a time per index folder: a second `assistant index` (or tune) waits for the
    first, then plans from what it left; with `wait=False` (a trainer's click) it is refused
    with a message instead. The lock goes with the process, however it ends."""
    persist.mkdir(parents=True, exist_ok=True)
    with open(persist / WRITER_LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise UserError("另一次训练或索引构建正在进行，请等它结束后再试") from None
        yield


def hold_build(build: Path):
    """A shared lock on `build` for as long as the returned file stays open: the prune of a
    later build leaves a build alone while any process answers from it."""
    handle = open(build / READER_LOCK, "a+")
    fcntl.flock(handle, fcntl.LOCK_SH)
    return handle


def file_digests(build: Path) -> dict[str, str]:
    skip = {MANIFEST, READER_LOCK}
    return {
        path.relative_to(build).as_posix(): f"{path.stat().st_size}:{hashlib.sha256(path.read_bytes()).hexdigest()}"
        for path in sorted(build.rglob("*"))
        if path.is_file() and path.name not in skip and "chroma" not in path.relative_to(build).parts
    }


def file_damage(build: Path, manifest: Manifest) -> str | None:
    """The first build file that is missing or not as the manifest recorded it."""
    for name, recorded in manifest.files.items():
        path = build / name
        if not path.is_file():
            return f"{name} is missing"
        size, _, digest = recorded.partition(":")
        if path.stat().st_size != int(size) or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return f"{name} is not the file this build wrote"
    return None


def read_chunk(line: str) -> Chunk:
    data = json.loads(line)
    return Chunk(**data)
