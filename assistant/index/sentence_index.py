"""The units the answerer may quote (sentences, and clauses of long ones), each with its vector.

Answers are judged sentence by sentence, so the dense side of retrieval is too: every unit of
every chunk is embedded on its own, into its own Chroma collection, and a chunk's vector is
the mean of its units' (one model pass per unit instead of two). The units and their vectors
are also kept as build files, which `assistant tune` trains against.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from assistant.ingest.chunk import Chunk
from assistant.ingest.sentences import clause_spans

UNITS = "units.jsonl"
UNIT_VECTORS = "units.npy"


@dataclass(frozen=True)
class Unit:
    unit_id: str
    chunk_id: str
    start: int  # offsets into the chunk's text
    end: int
    text: str
    section: str


def unit_id(chunk_id: str, start: int) -> str:
    return f"{chunk_id}:{start}"


def sentence_units(chunks: list[Chunk]) -> list[Unit]:
    return [
        Unit(unit_id(c.chunk_id, s), c.chunk_id, s, e, c.text[s:e], c.section)
        for c in chunks
        for s, e in clause_spans(c.text)
    ]


def chunk_vectors(chunks: list[Chunk], units: list[Unit], vectors: np.ndarray) -> np.ndarray:
    """Each chunk's vector: the normalised mean of its units' vectors."""
    position = {c.chunk_id: i for i, c in enumerate(chunks)}
    out = np.zeros((len(chunks), vectors.shape[1]), dtype=np.float32)
    np.add.at(out, [position[u.chunk_id] for u in units], vectors)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)


def write_units(build: Path, units: list[Unit], vectors: np.ndarray) -> None:
    with open(build / UNITS, "w", encoding="utf-8") as fh:
        for unit in units:
            fh.write(json.dumps(asdict(unit), ensure_ascii=False) + "\n")
    np.save(build / UNIT_VECTORS, vectors.astype(np.float32))


def read_units(build: Path) -> tuple[list[Unit], np.ndarray] | None:
    """The build's units and vectors; None for a build without them (the hashing embedding)."""
    if not (build / UNITS).is_file():
        return None
    units = [Unit(**json.loads(line)) for line in (build / UNITS).read_text(encoding="utf-8").splitlines()]
    vectors = np.load(build / UNIT_VECTORS)
    if len(units) != len(vectors):
        raise ValueError(f"{len(units)} units but {len(vectors)} vectors")
    return units, vectors
