"""The index a process answers from: the answering build's chunks, BM25, tokenizer, vector
stores and trained model, loaded once and checked against the build's manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.errors import IndexDamaged, IndexMismatchError, IndexMissingError
from assistant.index.lexical import LexicalIndex
from assistant.index.manifest import MANIFEST, Manifest, current_build, file_damage, hold_build, manifest_at, read_chunk, vector_location
from assistant.index.ranking import load_model
from assistant.index.sentence_index import Unit
from assistant.index.tokenize import Tokenizer
from assistant.index.vectors import HASHING, make_embeddings, open_units, open_vectors
from assistant.ingest.chunk import Chunk
from assistant.ingest.normalize import compact
from assistant.settings import Settings

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
            held = hold_build(build)
        except FileNotFoundError:
            return cls.open(settings)  # pruned while we looked: the newer build answers
        if not (build / MANIFEST).is_file():  # pruned between reading CURRENT and taking the lock
            held.close()
            return cls.open(settings)
        manifest = manifest_at(build)  # this build's, even if a rebuild switches CURRENT meanwhile
        if damage := file_damage(build, manifest):
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
            chunks = [read_chunk(line) for line in (build / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
            lexical = LexicalIndex.load(build / "lexical")
            # the built-in embedding's state is an index file too; a model is not
            embeddings = make_embeddings(settings, spec, build) if spec.kind == HASHING else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexDamaged(f"index files: {exc.__class__.__name__}") from None
        if not len(chunks) == lexical.n_docs == manifest.chunks:
            raise IndexDamaged(f"{len(chunks)} chunks and {lexical.n_docs} lexical entries for {manifest.chunks}")
        if embeddings is None:
            embeddings = make_embeddings(settings, spec, build)
        store = open_vectors(settings, build, manifest, embeddings)
        units, sentence_store = open_units(settings, build, manifest, embeddings)
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
