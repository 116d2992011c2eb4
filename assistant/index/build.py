"""Build, store and open the index: Chroma vectors, a BM25 lexical side, and a manifest.

Layout under the persist folder:

    CURRENT                 name of the build that answers queries (switched atomically)
    builds/<build_id>/      manifest.json, chunks.jsonl, tokens.jsonl, lexical/, hashing.json,
                            userdict.txt, chroma/ (or collection assistant-<build_id> on a server)

A build is written to a fresh folder and only then named in CURRENT, so a killed or failed
build never disturbs the index that is answering. The manifest records which embedding
built the index and the hash of every corpus file, so an unchanged corpus costs nothing.

Updates: `plan_changes` compares the corpus with the answering build, `apply_changes` writes
the new build. A full build fits the vocabulary (jieba user dictionary) and the hashing IDF on
every chunk. An update keeps both as they are, copies the unchanged documents' chunks, tokens
and vectors, and chunks, tokenises and embeds only added and changed files; BM25 is rebuilt from
the stored tokens. Grams a kept IDF has never seen weigh like the rarest ones. Once the chunks
added or removed since the last fit pass REFIT_SHARE of it, the update becomes a full build,
and `--rebuild` always is one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from pydantic import BaseModel

from assistant.ingest.chunk import Chunk, chunk_document, chunk_outline
from assistant.ingest.clean import paragraphs
from assistant.ingest.corpus import READERS, UnreadableDocumentError, corpus_files, file_digest, read_document
from assistant.index.embedding_cache import EmbeddingCache
from assistant.index.embeddings import (
    E5,
    HASHING,
    E5Embeddings,
    EmbeddingSpec,
    HashingEmbeddings,
    SentenceTransformerEmbeddings,
    choose_kind,
)
from assistant.errors import IndexDamaged, IndexMismatchError, IndexMissingError, UserError
from assistant.index.lexical import LexicalIndex
from assistant.index.lexicon import corpus_terms
from assistant.ingest.normalize import compact
from assistant.ingest.outline import Outline, Section
from assistant.index.ranking import load_model
from assistant.index.sentence_index import Unit, chunk_vectors, read_units, sentence_units, write_units
from assistant.settings import Settings
from assistant.index.tokenize import Tokenizer, tokenizer_for

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
REFIT_SHARE = 0.5  # updates since the last full fit, as a share of it, that force a full build
MIN_BODY_SHARE = 0.5  # below this share of text in section bodies an outline is not trusted
Progress = Callable[[str, int, int], None]


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


def _manifest_at(build: Path) -> Manifest:
    try:
        return Manifest.model_validate_json((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexDamaged(f"manifest: {exc.__class__.__name__}") from None


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


def _prune(settings: Settings, keep: set[str]) -> None:
    """Drop builds other than the current and the previous one that no process answers from,
    including half-written ones and pointer files left by a killed build (only a writer prunes,
    so no build is being written meanwhile)."""
    persist = settings.persist_dir
    for build in _builds(persist).iterdir():
        if build.name in keep or not build.is_dir():
            continue
        with open(build / READER_LOCK, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a server still answers from it; a later prune takes it
            _drop_vectors(settings, build)
            shutil.rmtree(build, ignore_errors=True)
    for pointer in persist.glob(f".{CURRENT}.*.tmp"):
        pointer.unlink(missing_ok=True)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def chroma_client(settings: Settings, build: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_server:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except Exception as exc:  # chromadb reports a server that is not there as ValueError or httpx errors
            raise UserError(
                f"cannot reach the Chroma server at {vector_location(settings)} ({_first_line(exc)}); "
                "start it with `chroma run --path DIR --host HOST --port PORT` or fix --chroma-host/--chroma-port"
            ) from None
    return chromadb.PersistentClient(path=str((build / "chroma").resolve()), settings=chroma_settings)


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
        state = build / HASHING_STATE if build else None
        if state is not None and state.is_file():
            return HashingEmbeddings.load(state)
        return HashingEmbeddings(dim=spec.dim if spec else settings.hashing_dim)
    if kind == E5:
        return E5Embeddings(settings.embedding_threads, EmbeddingCache(settings.persist_dir))
    return SentenceTransformerEmbeddings(spec.model if spec else settings.embedding_model)


def _wanted_kind(settings: Settings) -> str:
    return choose_kind(settings.embedding, settings.embedding_model)


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


def _hold(build: Path):
    """A shared lock on `build` for as long as the returned file stays open: the prune of a
    later build leaves a build alone while any process answers from it."""
    handle = open(build / READER_LOCK, "a+")
    fcntl.flock(handle, fcntl.LOCK_SH)
    return handle


def build_index(settings: Settings, rebuild: bool = False, progress: Progress | None = None) -> BuildReport:
    """Bring the index up to date with the corpus folder: nothing, an update, or a full build."""
    with writer_lock(settings.persist_dir):
        return _build_index(settings, rebuild, progress)


def _build_index(settings: Settings, rebuild: bool, progress: Progress | None) -> BuildReport:
    started = time.perf_counter()
    persist = settings.persist_dir
    files = {p.relative_to(settings.corpus_dir).as_posix(): p for p in corpus_files(settings.corpus_dir)}
    if not files:
        raise UserError(f"no {', '.join(READERS)} documents in {settings.corpus_dir}")
    digests = {name: file_digest(path) for name, path in files.items()}
    previous = _previous_manifest(persist)
    previous_build = current_build(persist)
    if previous_build is not None:  # what a killed build left behind goes now, not after the next good one
        _prune(settings, {previous_build.name})
    plan = plan_changes(settings, previous, previous_build, digests, rebuild)
    if plan.nothing_to_do:
        return BuildReport(previous, skipped=True, seconds=time.perf_counter() - started)

    build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    build = _builds(persist) / build_id
    build.mkdir(parents=True)
    try:
        manifest = apply_changes(settings, plan, files, previous, previous_build, build, build_id, progress)
    except BaseException:
        _drop_vectors(settings, build)
        shutil.rmtree(build, ignore_errors=True)
        raise
    manifest.seconds = round(time.perf_counter() - started, 3)
    manifest.files = _file_digests(build)
    (build / MANIFEST).write_text(manifest.model_dump_json(indent=2))
    _switch(persist, build_id)
    _prune(settings, {build_id} | ({previous_build.name} if previous_build else set()))
    return BuildReport(manifest, skipped=False, seconds=manifest.seconds)


# --- planning: which documents changed, and whether an update can reuse the previous build ---


@dataclass(frozen=True)
class ChangePlan:
    full: bool
    reason: str  # why a full build, or "update"
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    @property
    def nothing_to_do(self) -> bool:
        return not self.full and not (self.added or self.changed or self.removed)

    @property
    def to_read(self) -> tuple[str, ...]:
        return self.added + self.changed


def vector_location(settings: Settings) -> str:
    """Where a build's vectors live; an index is only usable from the same place."""
    return f"http://{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_server else EMBEDDED


def plan_changes(
    settings: Settings,
    previous: Manifest | None,
    previous_build: Path | None,
    digests: dict[str, str],
    rebuild: bool = False,
) -> ChangePlan:
    """Compare the corpus with the answering build. An update needs a build of this format,
    chunk size, embedding and vector location whose stored tokens it can reuse."""
    names = sorted(digests)
    spec = previous.embedding_spec if previous else None
    wanted = _wanted_kind(settings)
    reason = (
        "rebuild requested" if rebuild
        else "no index yet" if previous is None or previous_build is None
        else "index format changed" if previous.format_version != FORMAT_VERSION
        else "chunk size changed" if previous.chunk_tokens != settings.chunk_tokens
        else "embedding changed" if spec.kind != wanted or (wanted == HASHING and spec.dim != settings.hashing_dim)
        else f"vectors move from {previous.vector_store} to {vector_location(settings)}"
        if previous.vector_store != vector_location(settings)
        else "previous build has no stored tokens" if not (previous_build / TOKENS).is_file()
        else f"the index is damaged: {damage}, so it is built again" if (damage := index_damage(settings, previous_build, previous))
        else ""
    )
    if reason:
        return ChangePlan(full=True, reason=reason, added=tuple(names))
    old = {name: entry.sha256 for name, entry in previous.documents.items()}
    return ChangePlan(
        full=False,
        reason="update",
        added=tuple(n for n in names if n not in old),
        changed=tuple(n for n in names if n in old and old[n] != digests[n]),
        removed=tuple(sorted(set(old) - set(digests))),
        unchanged=tuple(n for n in names if old.get(n) == digests[n]),
    )


def _file_digests(build: Path) -> dict[str, str]:
    skip = {MANIFEST, READER_LOCK}
    return {
        path.relative_to(build).as_posix(): f"{path.stat().st_size}:{hashlib.sha256(path.read_bytes()).hexdigest()}"
        for path in sorted(build.rglob("*"))
        if path.is_file() and path.name not in skip and "chroma" not in path.relative_to(build).parts
    }


def _file_damage(build: Path, manifest: Manifest) -> str | None:
    """The first build file that is missing or not as the manifest recorded it."""
    for name, recorded in manifest.files.items():
        path = build / name
        if not path.is_file():
            return f"{name} is missing"
        size, _, digest = recorded.partition(":")
        if path.stat().st_size != int(size) or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return f"{name} is not the file this build wrote"
    return None


def index_damage(settings: Settings, build: Path, manifest: Manifest) -> str | None:
    """What is wrong with a build: a file against the manifest, or its Chroma collections."""
    found = _file_damage(build, manifest)
    if found:
        return found
    try:
        _open_vectors(settings, build, manifest, None)
        _open_units(settings, build, manifest, None)
    except IndexDamaged as exc:
        return exc.what
    return None


def _needs_refit(previous: Manifest, plan: ChangePlan, fresh: dict[str, "IngestedDocument"]) -> bool:
    """The vocabulary and hashing IDF are fitted on full builds and kept by updates; once the
    chunks added or removed since that fit exceed REFIT_SHARE of it, the update becomes a full build."""
    dropped = sum(previous.documents[n].chunks for n in plan.changed + plan.removed)
    added = sum(len(doc.chunks) for doc in fresh.values())
    return previous.updated_chunks + dropped + added > REFIT_SHARE * max(previous.fitted_chunks, 1)


# --- reading: every document to chunks, or to a warning ---


@dataclass
class IngestedDocument:
    entry: DocumentEntry
    chunks: list[Chunk]


def _body_share(outline: Outline) -> float:
    body = sum(len(p.text) for s in outline.sections for p in s.paragraphs)
    headings = sum(len(s.title) for s in outline.sections[1:])
    return body / ((body + headings) or 1)


def ingest_document(corpus_dir: Path, path: Path, chunk_tokens: int) -> IngestedDocument:
    """Read and chunk one file. A file that cannot be read or holds no text becomes a warning;
    one whose outline holds too little of its text is chunked by paragraph instead."""
    name = path.relative_to(corpus_dir).as_posix()
    stem = path.stem
    try:
        document = read_document(corpus_dir, path)
    except UnreadableDocumentError as exc:
        return IngestedDocument(DocumentEntry(sha256=file_digest(path), title=stem, chunks=0, structured=False,
                                              warnings=[f"{name}: {exc}; skipped"]), [])
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
    entry = DocumentEntry(
        sha256=document.sha256, title=outline.title, chunks=len(chunks), structured=outline.structured,
        warnings=warnings,
    )
    return IngestedDocument(entry, chunks)


def _ingest(settings: Settings, files: dict[str, Path], names: tuple[str, ...], tell: Progress) -> dict[str, IngestedDocument]:
    found = {}
    for i, name in enumerate(names):
        tell("读取与切分", i, len(names))
        found[name] = ingest_document(settings.corpus_dir, files[name], settings.chunk_tokens)
    tell("读取与切分", len(names), len(names))
    return found


def _tokenise(tokenizer: Tokenizer, chunks: list[Chunk], tell: Progress) -> list[list[str]]:
    token_lists = []
    for i, chunk in enumerate(chunks):
        if i % 200 == 0:
            tell("分词", i, len(chunks))
        token_lists.append(tokenizer.tokens(chunk.heading_text))
    tell("分词", len(chunks), len(chunks))
    return token_lists


# --- applying: write a new build folder, fully or from the previous one ---


def apply_changes(
    settings: Settings,
    plan: ChangePlan,
    files: dict[str, Path],
    previous: Manifest | None,
    previous_build: Path | None,
    build: Path,
    build_id: str,
    progress: Progress | None = None,
) -> Manifest:
    tell = progress or (lambda *_: None)
    fresh = _ingest(settings, files, plan.to_read, tell)
    if not plan.full and _needs_refit(previous, plan, fresh):
        rest = _ingest(settings, files, plan.unchanged, tell)
        plan = ChangePlan(full=True, reason="refit after many updates", added=tuple(sorted(files)))
        fresh = {**fresh, **rest}
    if plan.full:
        return _write_full(settings, build, build_id, fresh, tell)
    return _write_update(settings, plan, build, build_id, previous, previous_build, fresh, tell)


def _write_full(
    settings: Settings, build: Path, build_id: str, docs: dict[str, IngestedDocument], tell: Progress
) -> Manifest:
    """Fit the vocabulary and the embedding on every chunk, then write everything."""
    documents = {name: docs[name].entry for name in sorted(docs)}
    chunks = [c for name in sorted(docs) for c in docs[name].chunks]
    if not chunks:
        raise UserError(f"the documents in {settings.corpus_dir} contain no text")
    terms = corpus_terms([c.heading_text for c in chunks])
    (build / USERDICT).write_text("\n".join(terms), encoding="utf-8")
    token_lists = _tokenise(tokenizer_for(tuple(terms)), chunks, tell)
    embeddings = make_embeddings(settings, None, None)
    if isinstance(embeddings, HashingEmbeddings):
        embeddings.fit([c.heading_text for c in chunks]).save(build / HASHING_STATE)
    collection = _new_collection(settings, build, build_id)
    if isinstance(embeddings, HashingEmbeddings):
        _add_vectors(collection, chunks, embeddings, tell)
    else:
        _add_unit_vectors(settings, build, build_id, collection, chunks, embeddings, tell)
    _write_lexical(build, chunks, token_lists)
    return _manifest(settings, build_id, embeddings, collection.name, documents, len(chunks), len(chunks), 0)


def _write_update(
    settings: Settings,
    plan: ChangePlan,
    build: Path,
    build_id: str,
    previous: Manifest,
    previous_build: Path,
    fresh: dict[str, IngestedDocument],
    tell: Progress,
) -> Manifest:
    """Keep the unchanged documents' chunks, tokens and vectors; chunk, tokenise and embed only
    the added and changed ones, with the vocabulary and embedding state of the previous build."""
    for name in (USERDICT, HASHING_STATE):
        if (previous_build / name).is_file():
            shutil.copy2(previous_build / name, build / name)
    kept_names = set(plan.unchanged)
    old_chunks, old_tokens = _read_lexical(previous_build)
    kept = {c.chunk_id: (c, t) for c, t in zip(old_chunks, old_tokens) if c.source in kept_names}
    new_chunks = [c for doc in fresh.values() for c in doc.chunks]
    new_tokens = dict(zip((c.chunk_id for c in new_chunks),
                          _tokenise(Tokenizer.from_file(build / USERDICT), new_chunks, tell)))
    documents = {n: previous.documents[n] if n in kept_names else fresh[n].entry for n in sorted(kept_names | set(fresh))}
    chunks = [c for c in old_chunks if c.chunk_id in kept] + new_chunks
    chunks.sort(key=lambda c: (c.source, c.order))  # the order a full build writes
    if not chunks:
        raise UserError(f"the documents in {settings.corpus_dir} contain no text")
    embeddings = make_embeddings(settings, previous.embedding_spec, build)
    collection = _new_collection(settings, build, build_id)
    if isinstance(embeddings, HashingEmbeddings):
        _copy_vectors(settings, previous_build, previous.collection, collection, [c.chunk_id for c in chunks if c.chunk_id in kept], tell)
        _add_vectors(collection, new_chunks, embeddings, tell)
    else:  # a model's vectors of unchanged text come from the embedding cache
        _add_unit_vectors(settings, build, build_id, collection, chunks, embeddings, tell)
    token_lists = [kept[c.chunk_id][1] if c.chunk_id in kept else new_tokens[c.chunk_id] for c in chunks]
    _write_lexical(build, chunks, token_lists)
    dropped = sum(previous.documents[n].chunks for n in plan.changed + plan.removed)
    return _manifest(
        settings, build_id, embeddings, collection.name, documents, len(chunks),
        previous.fitted_chunks, previous.updated_chunks + dropped + len(new_chunks),
    )


def _manifest(settings, build_id, embeddings, collection, documents, chunks, fitted, updated) -> Manifest:
    return Manifest(
        build_id=build_id,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        embedding=embeddings.spec.__dict__,
        chunk_tokens=settings.chunk_tokens,
        collection=collection,
        vector_store=vector_location(settings),
        documents=documents,
        chunks=chunks,
        fitted_chunks=fitted,
        updated_chunks=updated,
        warnings=[w for entry in documents.values() for w in entry.warnings],
    )


def _write_lexical(build: Path, chunks: list[Chunk], token_lists: list[list[str]]) -> None:
    """BM25 plus the chunks and their tokens, so an update re-tokenises only what changed."""
    LexicalIndex.build(token_lists).save(build / "lexical")
    with open(build / TOKENS, "w", encoding="utf-8") as fh:
        for tokens in token_lists:
            fh.write(json.dumps(tokens, ensure_ascii=False) + "\n")
    with open(build / CHUNKS, "w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps({**chunk.metadata(), "text": chunk.text}, ensure_ascii=False) + "\n")


def _read_lexical(build: Path) -> tuple[list[Chunk], list[list[str]]]:
    chunks = [_read_chunk(line) for line in (build / CHUNKS).read_text(encoding="utf-8").splitlines()]
    tokens = [json.loads(line) for line in (build / TOKENS).read_text(encoding="utf-8").splitlines()]
    if len(chunks) != len(tokens):
        raise IndexDamaged(f"{len(chunks)} chunks but {len(tokens)} token lists")
    return chunks, tokens


# --- vectors: one Chroma collection per build, embedded in the build folder or on a server ---

VECTOR_BATCH = 1024


def _new_collection(settings: Settings, build: Path, build_id: str):
    return chroma_client(settings, build).create_collection(
        f"assistant-{build_id}", metadata={"hnsw:space": "cosine"}
    )


def _add_vectors(collection, chunks: list[Chunk], embeddings, tell: Progress) -> None:
    for start in range(0, len(chunks), VECTOR_BATCH):
        tell("向量化", start, len(chunks))
        part = chunks[start : start + VECTOR_BATCH]
        texts = [c.heading_text for c in part]
        vectors = embeddings.matrix(texts) if isinstance(embeddings, HashingEmbeddings) else embeddings.embed_documents(texts)
        collection.add(
            ids=[c.chunk_id for c in part], embeddings=vectors, documents=texts, metadatas=[c.metadata() for c in part]
        )
    tell("向量化", len(chunks), len(chunks))


def sentence_collection(build_id: str) -> str:
    return f"sentences-{build_id}"


def _add_unit_vectors(settings: Settings, build: Path, build_id: str, collection, chunks: list[Chunk], embeddings, tell: Progress) -> None:
    """Embed every unit (sentence or clause) into the build's sentence collection, and each chunk
    as the mean of its units."""
    units = sentence_units(chunks)
    vectors = np.zeros((0, embeddings.spec.dim), dtype=np.float32)
    for start in range(0, len(units), VECTOR_BATCH):
        tell("向量化", start, len(units))
        vectors = np.vstack([vectors, _passage_matrix(embeddings, [u.text for u in units[start : start + VECTOR_BATCH]])])
    tell("向量化", len(units), len(units))
    write_units(build, units, vectors)
    sentences = chroma_client(settings, build).create_collection(sentence_collection(build_id), metadata={"hnsw:space": "cosine"})
    for start in range(0, len(units), VECTOR_BATCH):
        part = units[start : start + VECTOR_BATCH]
        sentences.add(
            ids=[u.unit_id for u in part], embeddings=vectors[start : start + len(part)], documents=[u.text for u in part],
            metadatas=[{"chunk_id": u.chunk_id, "start": u.start, "end": u.end, "section": u.section} for u in part],
        )
    means = chunk_vectors(chunks, units, vectors)
    for start in range(0, len(chunks), VECTOR_BATCH):
        part = chunks[start : start + VECTOR_BATCH]
        collection.add(ids=[c.chunk_id for c in part], embeddings=means[start : start + len(part)],
                       documents=[c.heading_text for c in part], metadatas=[c.metadata() for c in part])


def _passage_matrix(embeddings, texts: list[str]) -> np.ndarray:
    if isinstance(embeddings, E5Embeddings):
        return embeddings.matrix(texts)
    return np.asarray(embeddings.embed_documents(texts), dtype=np.float32)


def _copy_vectors(settings: Settings, previous_build: Path, name: str, target, ids: list[str], tell: Progress) -> None:
    """Carry the stored vectors of unchanged chunks over from the previous build's collection."""
    source = chroma_client(settings, previous_build).get_collection(name)
    for start in range(0, len(ids), VECTOR_BATCH):
        tell("复制向量", start, len(ids))
        got = source.get(ids=ids[start : start + VECTOR_BATCH], include=["embeddings", "documents", "metadatas"])
        if len(got["ids"]) != len(ids[start : start + VECTOR_BATCH]):
            raise IndexDamaged(f"the previous build's Chroma collection lacks {len(ids[start:start + VECTOR_BATCH]) - len(got['ids'])} vectors")
        target.add(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"], metadatas=got["metadatas"])
    tell("复制向量", len(ids), len(ids))


def _drop_vectors(settings: Settings, build: Path) -> None:
    """Delete a build's collection from the Chroma server (embedded ones go with the folder)."""
    if not settings.chroma_server:
        return
    try:
        manifest = Manifest.model_validate_json((build / MANIFEST).read_text(encoding="utf-8"))
        name, where = manifest.collection, manifest.vector_store
    except (OSError, ValueError):
        name, where = f"assistant-{build.name}", vector_location(settings)  # a build that never finished
    if where != vector_location(settings):
        return
    from chromadb.errors import ChromaError

    for collection in (name, sentence_collection(name.removeprefix("assistant-"))):
        try:
            chroma_client(settings, build).delete_collection(collection)
        except (ChromaError, ValueError, UserError):  # already gone, never created, or the server is down
            pass


def _open_vectors(settings: Settings, build: Path, manifest: Manifest, embeddings):
    """The build's Chroma collection, checked to hold every chunk: a damaged store would fail
    mid-query, and an emptied one (Chroma recreates it silently) would answer from BM25 alone."""
    try:
        store = vector_store(settings, build, manifest.collection, embeddings)
        count = store._collection.count()
    except Exception as exc:  # a store Chroma cannot open is damaged, whatever Chroma raises for it
        raise IndexDamaged(f"Chroma store: {_first_line(exc)}") from None
    if count != manifest.chunks:
        raise IndexDamaged(f"Chroma holds {count} of {manifest.chunks} chunks")
    return store


def _open_units(settings: Settings, build: Path, manifest: Manifest, embeddings):
    """The build's sentence units and their Chroma collection, checked to match."""
    try:
        found = read_units(build)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexDamaged(f"sentence units: {exc.__class__.__name__}") from None
    if found is None:
        return None, None
    units, _ = found
    try:
        store = vector_store(settings, build, sentence_collection(manifest.build_id), embeddings)
        count = store._collection.count()
    except Exception as exc:  # a store Chroma cannot open is damaged, whatever Chroma raises for it
        raise IndexDamaged(f"Chroma sentence store: {_first_line(exc)}") from None
    if count != len(units):
        raise IndexDamaged(f"Chroma holds {count} of {len(units)} sentences")
    return units, store


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
    units: list[Unit] | None = None  # what the answerer may quote, with a vector each (models only)
    sentence_store: object = None
    model: object = None  # the trained query adapter and rankers (assistant.index.ranking.TrainedModel)
    held: object = None  # the open lock file that keeps a prune off this build

    def __post_init__(self) -> None:
        self.position = {chunk.chunk_id: i for i, chunk in enumerate(self.chunks)}
        self.by_id = {chunk.chunk_id: chunk for chunk in self.chunks}
        self._compact = [compact(chunk.heading_text) for chunk in self.chunks]
        self._frequency: dict[str, int] = {}

    def chunk_frequency(self, term: str) -> int:
        """How many chunks contain `term` as written (substring, whitespace-insensitive)."""
        found = self._frequency.get(term)
        if found is None:  # (threads share this cache: the value returned is never re-read from it)
            if len(self._frequency) > 100_000:  # questions are unbounded; the cache is not
                self._frequency.clear()
            needle = compact(term)
            found = self._frequency[term] = sum(needle in text for text in self._compact)
        return found

    @classmethod
    def open(cls, settings: Settings) -> "LoadedIndex":
        build = current_build(settings.persist_dir)
        if build is None:
            raise IndexMissingError(f"no index in {settings.persist_dir}; run `assistant index` first")
        try:
            held = _hold(build)
        except FileNotFoundError:
            return cls.open(settings)  # pruned while we looked: the newer build answers
        if not (build / MANIFEST).is_file():  # pruned between reading CURRENT and taking the lock
            held.close()
            return cls.open(settings)
        manifest = _manifest_at(build)  # this build's, even if a rebuild switches CURRENT meanwhile
        if damage := _file_damage(build, manifest):
            raise IndexDamaged(damage)
        spec = manifest.embedding_spec
        if settings.embedding != "auto" and settings.embedding != spec.kind:
            raise IndexMismatchError(
                f"the index was built with {spec.describe()} but settings ask for {settings.embedding}; "
                "run `assistant index --rebuild`"
            )
        if manifest.vector_store != vector_location(settings):
            raise IndexMismatchError(
                f"the index keeps its vectors at {manifest.vector_store}, not at {vector_location(settings)}; "
                "run `assistant index` with these Chroma settings to build it there"
            )
        try:
            chunks = [_read_chunk(line) for line in (build / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
            lexical = LexicalIndex.load(build / "lexical")
            # the built-in embedding's state is an index file too; a model is not
            embeddings = make_embeddings(settings, spec, build) if spec.kind == HASHING else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexDamaged(f"index files: {exc.__class__.__name__}") from None
        if not len(chunks) == lexical.n_docs == manifest.chunks:
            raise IndexDamaged(f"{len(chunks)} chunks and {lexical.n_docs} lexical entries for {manifest.chunks}")
        if embeddings is None:
            embeddings = make_embeddings(settings, spec, build)
        store = _open_vectors(settings, build, manifest, embeddings)
        units, sentence_store = _open_units(settings, build, manifest, embeddings)
        return cls(
            manifest=manifest,
            build=build,
            chunks=chunks,
            lexical=lexical,
            tokenizer=Tokenizer.from_file(build / "userdict.txt"),
            embeddings=embeddings,
            store=store,
            units=units,
            sentence_store=sentence_store,
            model=load_model(settings.persist_dir, manifest.embedding_spec) if units else None,
            held=held,
        )
