"""Vectors keyed by a hash of (model, role, text), in SQLite under the index folder.

Unchanged text is never embedded twice: a rebuild, an update, a copy of a document and the
training questions of `assistant tune` all read what an earlier run wrote. WAL mode and one
transaction per batch let several processes share it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np

FILE = "embedding-cache.sqlite3"


def _key(model: str, role: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x1f{role}\x1f{text}".encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / FILE

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        return db

    def get(self, model: str, role: str, texts: list[str]) -> dict[int, np.ndarray]:
        """Position in `texts` → vector, for the texts already embedded."""
        keys = [_key(model, role, t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._connect() as db:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                rows = db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
                ).fetchall()
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return {i: found[k] for i, k in enumerate(keys) if k in found}

    def put(self, model: str, role: str, texts: list[str], vectors: np.ndarray) -> None:
        rows = [(_key(model, role, t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors)]
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
