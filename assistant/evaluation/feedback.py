"""Durable 👍/👎 feedback on answers: one SQLite file in the data directory.

Officials rate answers all day and the trainer later reads the 👎 ones back, so every click is
its own committed transaction (WAL, synchronous=FULL): a server killed right after a click
keeps it. A rating and its optional comment share one row, so a comment never duplicates it.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from assistant.answer_models import Answer, Citation
from assistant.errors import UserError

Rating = Literal["up", "down"]
RATINGS: tuple[str, ...] = ("up", "down")
FILENAME = "feedback.sqlite3"
MAX_COMMENT_CHARS = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    standalone_question TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    mode TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


class FeedbackItem(BaseModel):
    id: str
    rating: Rating
    comment: str = ""
    question: str
    standalone_question: str = ""
    answer: str
    citations: list[Citation]
    mode: str
    created_at: str
    updated_at: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class FeedbackStore:
    """Ratings and comments in `<data_dir>/feedback.sqlite3`; safe to share between threads."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILENAME
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the feedback store {self.path}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        # one short connection per call: no connection is shared across threads
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA synchronous=FULL")
        return db

    def _write(self, sql: str, params: tuple) -> None:
        try:
            with closing(self._connect()) as db, db:
                db.execute(sql, params)
        except sqlite3.Error as exc:
            raise UserError(f"could not save feedback to {self.path}: {exc}") from None

    def rate(self, answer: Answer, rating: str, feedback_id: str | None = None) -> str:
        """Store (or change) the rating of one answer; returns the id a comment attaches to."""
        if rating not in RATINGS:
            raise UserError(f"rating must be one of {', '.join(RATINGS)}")
        feedback_id = feedback_id or uuid.uuid4().hex
        now = _now()
        citations = json.dumps([c.model_dump() for c in answer.citations], ensure_ascii=False)
        self._write(
            "INSERT INTO feedback (id, rating, question, standalone_question, answer, citations, mode,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET rating = excluded.rating, updated_at = excluded.updated_at",
            (feedback_id, rating, answer.question, answer.standalone_question, answer.answer, citations,
             answer.mode, now, now),
        )
        return feedback_id

    def comment(self, feedback_id: str, comment: str) -> None:
        comment = comment.strip()
        if len(comment) > MAX_COMMENT_CHARS:
            raise UserError(f"comment is too long ({len(comment)} characters; the limit is {MAX_COMMENT_CHARS})")
        if self.get(feedback_id) is None:
            raise UserError("rate the answer (👍/👎) before adding a comment")
        self._write("UPDATE feedback SET comment = ?, updated_at = ? WHERE id = ?", (comment, _now(), feedback_id))

    def get(self, feedback_id: str) -> FeedbackItem | None:
        items = self._read("WHERE id = ?", (feedback_id,))
        return items[0] if items else None

    def list_feedback(self, rating: str | None = None) -> list[FeedbackItem]:
        """Every item, oldest first; `rating="down"` gives the ones to learn from."""
        if rating is None:
            return self._read("", ())
        if rating not in RATINGS:
            raise UserError(f"rating must be one of {', '.join(RATINGS)}")
        return self._read("WHERE rating = ?", (rating,))

    def _read(self, where: str, params: tuple) -> list[FeedbackItem]:
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(f"SELECT * FROM feedback {where} ORDER BY created_at, rowid", params).fetchall()
        return [FeedbackItem(**{**dict(row), "citations": json.loads(row["citations"])}) for row in rows]
