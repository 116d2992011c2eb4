"""Build and update the index: from the corpus folder to a new build folder, switched in whole.

The folder's layout and the manifest are assistant.index.manifest's, the vectors
assistant.index.vectors', the index a process answers from assistant.index.loaded's.

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
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from assistant.errors import IndexDamaged, UserError
from assistant.index.embeddings import HashingEmbeddings
from assistant.index.lexical import LexicalIndex
from assistant.index.lexicon import corpus_terms
from assistant.index.manifest import (
    CHUNKS,
    CURRENT,
    HASHING_STATE,
    MANIFEST,
    READER_LOCK,
    TOKENS,
    USERDICT,
    DocumentEntry,
    Manifest,
    builds_folder,
    current_build,
    file_digests,
    read_chunk,
    read_manifest,
    vector_location,
    writer_lock,
)
from assistant.index.plan import ChangePlan, plan_changes
from assistant.index.tokenize import Tokenizer, tokenizer_for
from assistant.index.vectors import (
    Progress,
    add_unit_vectors,
    add_vectors,
    copy_vectors,
    drop_vectors,
    make_embeddings,
    new_collection,
)
from assistant.ingest.chunk import Chunk, ingest_document
from assistant.ingest.corpus import READERS, corpus_files, file_digest
from assistant.settings import Settings

REFIT_SHARE = 0.5  # updates since the last full fit, as a share of it, that force a full build


@dataclass
class BuildReport:
    manifest: Manifest
    skipped: bool
    seconds: float


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
    for build in builds_folder(persist).iterdir():
        if build.name in keep or not build.is_dir():
            continue
        with open(build / READER_LOCK, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a server still answers from it; a later prune takes it
            drop_vectors(settings, build)
            shutil.rmtree(build, ignore_errors=True)
    for pointer in persist.glob(f".{CURRENT}.*.tmp"):
        pointer.unlink(missing_ok=True)


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
    build = builds_folder(persist) / build_id
    build.mkdir(parents=True)
    try:
        manifest = apply_changes(settings, plan, files, previous, previous_build, build, build_id, progress)
    except BaseException:
        drop_vectors(settings, build)
        shutil.rmtree(build, ignore_errors=True)
        raise
    manifest.seconds = round(time.perf_counter() - started, 3)
    manifest.files = file_digests(build)
    (build / MANIFEST).write_text(manifest.model_dump_json(indent=2))
    _switch(persist, build_id)
    _prune(settings, {build_id} | ({previous_build.name} if previous_build else set()))
    return BuildReport(manifest, skipped=False, seconds=manifest.seconds)


def _needs_refit(previous: Manifest, plan: ChangePlan, fresh: dict[str, "IngestedDocument"]) -> bool:
    """The vocabulary and hashing IDF are fitted on full builds and kept by updates; once the
    chunks added or removed since that fit exceed REFIT_SHARE of it, the update becomes a full build."""
    dropped = sum(previous.documents[n].chunks for n in plan.changed + plan.removed)
    added = sum(len(doc.chunks) for doc in fresh.values())
    return previous.updated_chunks + dropped + added > REFIT_SHARE * max(previous.fitted_chunks, 1)


# --- reading: every document to chunks (or a warning), as the ingest stage makes them ---


@dataclass
class IngestedDocument:
    entry: DocumentEntry
    chunks: list[Chunk]


def _ingest(settings: Settings, files: dict[str, Path], names: tuple[str, ...], tell: Progress) -> dict[str, IngestedDocument]:
    found = {}
    for i, name in enumerate(names):
        tell("读取与切分", i, len(names))
        document = ingest_document(settings.corpus_dir, files[name], settings.chunk_tokens)
        entry = DocumentEntry(
            sha256=document.sha256, title=document.title, chunks=len(document.chunks),
            structured=document.structured, warnings=document.warnings,
        )
        found[name] = IngestedDocument(entry, document.chunks)
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
    collection = new_collection(settings, build, build_id)
    if isinstance(embeddings, HashingEmbeddings):
        add_vectors(collection, chunks, embeddings, tell)
    else:
        add_unit_vectors(settings, build, build_id, collection, chunks, embeddings, tell)
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
    collection = new_collection(settings, build, build_id)
    if isinstance(embeddings, HashingEmbeddings):
        copy_vectors(settings, previous_build, previous.collection, collection, [c.chunk_id for c in chunks if c.chunk_id in kept], tell)
        add_vectors(collection, new_chunks, embeddings, tell)
    else:  # a model's vectors of unchanged text come from the embedding cache
        add_unit_vectors(settings, build, build_id, collection, chunks, embeddings, tell)
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
    chunks = [read_chunk(line) for line in (build / CHUNKS).read_text(encoding="utf-8").splitlines()]
    tokens = [json.loads(line) for line in (build / TOKENS).read_text(encoding="utf-8").splitlines()]
    if len(chunks) != len(tokens):
        raise IndexDamaged(f"{len(chunks)} chunks but {len(tokens)} token lists")
    return chunks, tokens
