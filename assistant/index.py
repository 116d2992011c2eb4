"""Build, store and open the index: Chroma vectors, a BM25 lexical side, and a manifest.

Layout under the persist folder:

    CURRENT                 name of the build that answers queries (switched atomically)
    builds/<build_id>/      manifest.json, chunks.jsonl, lexical/, hashing.json, userdict.txt, chroma/

A build is written to a fresh folder and only then named in CURRENT, so a killed or failed
build never disturbs the index that is answering. The manifest records which embedding
built the index and the hash of every corpus file, so an unchanged corpus costs nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from pydantic import BaseModel

from assistant.chunk import Chunk, chunk_document
from assistant.corpus import corpus_files, file_digest, read_document
from assistant.embeddings import (
    HASHING,
    EmbeddingSpec,
    HashingEmbeddings,
    SentenceTransformerEmbeddings,
    choose_kind,
)
from assistant.errors import IndexMismatchError, IndexMissingError, UserError
from assistant.lexical import LexicalIndex
from assistant.lexicon import corpus_terms
from assistant.normalize import compact
from assistant.settings import Settings
from assistant.tokenize import Tokenizer

FORMAT_VERSION = 1
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
Progress = Callable[[str, int, int], None]


class DocumentEntry(BaseModel):
    sha256: str
    title: str
    chunks: int
    structured: bool


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    build_id: str
    built_at: str
    embedding: dict
    chunk_tokens: int
    collection: str
    documents: dict[str, DocumentEntry]
    chunks: int
    seconds: float = 0.0
    warnings: list[str] = []

    @property
    def embedding_spec(self) -> EmbeddingSpec:
        return EmbeddingSpec(**self.embedding)


@dataclass
class BuildReport:
    manifest: Manifest
    skipped: bool
    seconds: float


def _builds(persist: Path) -> Path:
    return persist / "builds"


def current_build(persist: Path) -> Path | None:
    pointer = persist / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    if not re.fullmatch(r"[\w.-]+", name):
        return None  # a garbage pointer names no build; `assistant index` writes a fresh one
    build = _builds(persist) / name
    return build if (build / MANIFEST).is_file() else None


def _damaged(what: str) -> UserError:
    return UserError(f"the index is damaged ({what}); run `assistant index --rebuild`")


def _manifest_at(build: Path) -> Manifest:
    try:
        return Manifest.model_validate_json((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _damaged(f"manifest: {exc.__class__.__name__}") from None


def read_manifest(persist: Path) -> Manifest | None:
    build = current_build(persist)
    return None if build is None else _manifest_at(build)


def _previous_manifest(persist: Path) -> Manifest | None:
    """The answering build's manifest; None when it is damaged, so that a rebuild can replace it."""
    try:
        return read_manifest(persist) if persist.exists() else None
    except UserError:
        return None


def _switch(persist: Path, build_id: str) -> None:
    tmp = persist / f".{CURRENT}.{build_id}.tmp"
    tmp.write_text(build_id)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, persist / CURRENT)


def _prune(persist: Path, keep: set[str]) -> None:
    """Drop builds other than the current and the previous one (a reader may still hold it),
    including half-written ones and pointer files left by a killed build."""
    for build in _builds(persist).iterdir():
        if build.name not in keep:
            shutil.rmtree(build, ignore_errors=True)
    for pointer in persist.glob(f".{CURRENT}.*.tmp"):
        pointer.unlink(missing_ok=True)


def chroma_client(settings: Settings, build: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_server:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    return chromadb.PersistentClient(path=str(build / "chroma"), settings=chroma_settings)


def vector_store(settings: Settings, build: Path, collection: str, embeddings):
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=collection,
        embedding_function=embeddings,
        client=chroma_client(settings, build),
        collection_metadata={"hnsw:space": "cosine"},
    )


def make_embeddings(settings: Settings, spec: EmbeddingSpec | None, build: Path | None):
    """The embedding for a new build (spec None) or the one an existing build was made with."""
    kind = spec.kind if spec else choose_kind(settings.embedding, settings.embedding_model)
    if kind == HASHING:
        state = build / "hashing.json" if build else None
        if state is not None and state.is_file():
            return HashingEmbeddings.load(state)
        return HashingEmbeddings(dim=spec.dim if spec else settings.hashing_dim)
    return SentenceTransformerEmbeddings(spec.model if spec else settings.embedding_model)


def _wanted_kind(settings: Settings) -> str:
    return choose_kind(settings.embedding, settings.embedding_model)


def build_index(settings: Settings, rebuild: bool = False, progress: Progress | None = None) -> BuildReport:
    started = time.perf_counter()
    persist = settings.persist_dir
    files = corpus_files(settings.corpus_dir)
    if not files:
        raise UserError(f"no .md or .txt documents in {settings.corpus_dir}")
    digests = {p.relative_to(settings.corpus_dir).as_posix(): file_digest(p) for p in files}
    previous = _previous_manifest(persist)
    if (
        previous is not None
        and not rebuild
        and previous.format_version == FORMAT_VERSION
        and previous.chunk_tokens == settings.chunk_tokens
        and previous.embedding_spec.kind == _wanted_kind(settings)
        and {name: d.sha256 for name, d in previous.documents.items()} == digests
    ):
        return BuildReport(previous, skipped=True, seconds=time.perf_counter() - started)

    build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    build = _builds(persist) / build_id
    build.mkdir(parents=True)
    try:
        manifest = _write_build(settings, build, build_id, files, progress)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    manifest.seconds = round(time.perf_counter() - started, 3)
    (build / MANIFEST).write_text(manifest.model_dump_json(indent=2))
    previous_build = current_build(persist)
    _switch(persist, build_id)
    _prune(persist, {build_id} | ({previous_build.name} if previous_build else set()))
    return BuildReport(manifest, skipped=False, seconds=manifest.seconds)


def _write_build(
    settings: Settings, build: Path, build_id: str, files: list[Path], progress: Progress | None
) -> Manifest:
    tell = progress or (lambda *_: None)
    chunks: list[Chunk] = []
    documents: dict[str, DocumentEntry] = {}
    warnings: list[str] = []
    for i, path in enumerate(files):
        tell("读取与切分", i, len(files))
        document = read_document(settings.corpus_dir, path)
        outline, doc_chunks = chunk_document(document, settings.chunk_tokens)
        if not outline.structured:
            warnings.append(f"{document.name}: no section structure found, chunked by paragraph")
        chunks.extend(doc_chunks)
        documents[document.name] = DocumentEntry(
            sha256=document.sha256, title=outline.title, chunks=len(doc_chunks), structured=outline.structured
        )
    tell("读取与切分", len(files), len(files))
    if not chunks:
        raise UserError(f"the documents in {settings.corpus_dir} contain no text")

    terms = corpus_terms([c.heading_text for c in chunks])
    (build / "userdict.txt").write_text("\n".join(terms), encoding="utf-8")
    tokenizer = Tokenizer(terms)
    token_lists = []
    for i, chunk in enumerate(chunks):
        if i % 200 == 0:
            tell("分词", i, len(chunks))
        token_lists.append(tokenizer.tokens(chunk.heading_text))
    tell("分词", len(chunks), len(chunks))
    LexicalIndex.build(token_lists).save(build / "lexical")
    with open(build / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps({**chunk.metadata(), "text": chunk.text}, ensure_ascii=False) + "\n")

    embeddings = make_embeddings(settings, None, None)
    if isinstance(embeddings, HashingEmbeddings):
        embeddings.fit([c.heading_text for c in chunks]).save(build / "hashing.json")
    collection = f"assistant-{build_id}"
    store = vector_store(settings, build, collection, embeddings)
    batch = 256
    for start in range(0, len(chunks), batch):
        tell("向量化", start, len(chunks))
        part = chunks[start : start + batch]
        store.add_texts(
            [c.heading_text for c in part],
            metadatas=[c.metadata() for c in part],
            ids=[c.chunk_id for c in part],
        )
    tell("向量化", len(chunks), len(chunks))
    return Manifest(
        build_id=build_id,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        embedding=embeddings.spec.__dict__,
        chunk_tokens=settings.chunk_tokens,
        collection=collection,
        documents=documents,
        chunks=len(chunks),
        warnings=warnings,
    )


def _open_vectors(settings: Settings, build: Path, manifest: Manifest, embeddings):
    """The build's Chroma collection, checked to hold every chunk: a damaged store would fail
    mid-query, and an emptied one (Chroma recreates it silently) would answer from BM25 alone."""
    import sqlite3

    from chromadb.errors import ChromaError

    try:
        store = vector_store(settings, build, manifest.collection, embeddings)
        count = store._collection.count()
    except (ChromaError, sqlite3.DatabaseError, OSError) as exc:
        raise _damaged(f"Chroma store: {str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__}") from None
    if count != manifest.chunks:
        raise _damaged(f"Chroma holds {count} of {manifest.chunks} chunks")
    return store


def _read_chunk(line: str) -> Chunk:
    data = json.loads(line)
    return Chunk(**data)


@dataclass
class LoadedIndex:
    """Everything a query needs, loaded once per process."""

    manifest: Manifest
    build: Path
    chunks: list[Chunk]
    lexical: LexicalIndex
    tokenizer: Tokenizer
    embeddings: object
    store: object

    def __post_init__(self) -> None:
        self.position = {chunk.chunk_id: i for i, chunk in enumerate(self.chunks)}
        self.by_id = {chunk.chunk_id: chunk for chunk in self.chunks}
        self._compact = [compact(chunk.heading_text) for chunk in self.chunks]
        self._frequency: dict[str, int] = {}

    def chunk_frequency(self, term: str) -> int:
        """How many chunks contain `term` as written (substring, whitespace-insensitive)."""
        if term not in self._frequency:
            if len(self._frequency) > 100_000:  # questions are unbounded; the cache is not
                self._frequency.clear()
            needle = compact(term)
            self._frequency[term] = sum(needle in text for text in self._compact)
        return self._frequency[term]

    @classmethod
    def open(cls, settings: Settings) -> "LoadedIndex":
        build = current_build(settings.persist_dir)
        if build is None:
            raise IndexMissingError(f"no index in {settings.persist_dir}; run `assistant index` first")
        manifest = _manifest_at(build)  # this build's, even if a rebuild switches CURRENT meanwhile
        spec = manifest.embedding_spec
        if settings.embedding != "auto" and settings.embedding != spec.kind:
            raise IndexMismatchError(
                f"the index was built with {spec.describe()} but settings ask for {settings.embedding}; "
                "run `assistant index --rebuild`"
            )
        try:
            chunks = [_read_chunk(line) for line in (build / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
            lexical = LexicalIndex.load(build / "lexical")
            # the built-in embedding's state is an index file too; a model is not
            embeddings = make_embeddings(settings, spec, build) if spec.kind == HASHING else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _damaged(f"index files: {exc.__class__.__name__}") from None
        if not len(chunks) == lexical.n_docs == manifest.chunks:
            raise _damaged(f"{len(chunks)} chunks and {lexical.n_docs} lexical entries for {manifest.chunks}")
        if embeddings is None:
            embeddings = make_embeddings(settings, spec, build)
        store = _open_vectors(settings, build, manifest, embeddings)
        return cls(
            manifest=manifest,
            build=build,
            chunks=chunks,
            lexical=lexical,
            tokenizer=Tokenizer.from_file(build / "userdict.txt"),
            embeddings=embeddings,
            store=store,
        )
