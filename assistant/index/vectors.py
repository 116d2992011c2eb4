"""The vectors: one Chroma collection of chunks per build (and one of sentence units with a
model), embedded in the build folder or on a Chroma server; written by a build, opened and
checked by `LoadedIndex.open` and `index_damage`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from assistant.errors import IndexDamaged, UserError
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
from assistant.index.manifest import HASHING_STATE, MANIFEST, Manifest, file_damage, vector_location
from assistant.index.sentence_index import chunk_vectors, read_units, sentence_units, write_units
from assistant.ingest.chunk import Chunk
from assistant.settings import Settings

Progress = Callable[[str, int, int], None]

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


VECTOR_BATCH = 1024


def new_collection(settings: Settings, build: Path, build_id: str):
    return chroma_client(settings, build).create_collection(
        f"assistant-{build_id}", metadata={"hnsw:space": "cosine"}
    )


def add_vectors(collection, chunks: list[Chunk], embeddings, tell: Progress) -> None:
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


def add_unit_vectors(settings: Settings, build: Path, build_id: str, collection, chunks: list[Chunk], embeddings, tell: Progress) -> None:
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


def copy_vectors(settings: Settings, previous_build: Path, name: str, target, ids: list[str], tell: Progress) -> None:
    """Carry the stored vectors of unchanged chunks over from the previous build's collection."""
    source = chroma_client(settings, previous_build).get_collection(name)
    for start in range(0, len(ids), VECTOR_BATCH):
        tell("复制向量", start, len(ids))
        got = source.get(ids=ids[start : start + VECTOR_BATCH], include=["embeddings", "documents", "metadatas"])
        if len(got["ids"]) != len(ids[start : start + VECTOR_BATCH]):
            raise IndexDamaged(f"the previous build's Chroma collection lacks {len(ids[start:start + VECTOR_BATCH]) - len(got['ids'])} vectors")
        target.add(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"], metadatas=got["metadatas"])
    tell("复制向量", len(ids), len(ids))


def drop_vectors(settings: Settings, build: Path) -> None:
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


def open_vectors(settings: Settings, build: Path, manifest: Manifest, embeddings):
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


def open_units(settings: Settings, build: Path, manifest: Manifest, embeddings):
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


def index_damage(settings: Settings, build: Path, manifest: Manifest) -> str | None:
    """What is wrong with a build: a file against the manifest, or its Chroma collections."""
    found = file_damage(build, manifest)
    if found:
        return found
    try:
        open_vectors(settings, build, manifest, None)
        open_units(settings, build, manifest, None)
    except IndexDamaged as exc:
        return exc.what
    return None
