"""Past conversations of the chat UI, kept server-side in one SQLite file in the data directory.

Officials come back to a conversation days later, from the same browser or (with a login) from
another one, so the list lives on the server, keyed by an owner: the login user, or an anonymous
id the browser keeps. Every statement names the owner, so nobody reads, renames or deletes
another's conversation, even by guessing its id.

A turn is written the moment its answer is complete, in its own committed transaction (WAL,
synchronous=FULL): a server killed, even with kill -9, loses at most the answer it was writing.
A turn keeps the answer as `Answer`'s own JSON, so a reopened conversation shows its citations
exactly as first answered and its next question is asked with the same history.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from assistant.answer_models import Answer
from assistant.errors import UserError

FILENAME = "conversations.sqlite3"
MAX_TITLE_CHARS = 30  # a title is one line of a narrow list
LISTED = 50  # the newest this many are listed; older ones stay stored

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS conversations (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        title TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations (owner, updated_at)",
    """CREATE TABLE IF NOT EXISTS turns (
        conversation_id TEXT NOT NULL,
        n INTEGER NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (conversation_id, n)
    )""",
]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Gone(UserError):
    """The conversation is not (or no longer) the owner's: deleted, perhaps in another window."""

    def __init__(self) -> None:
        super().__init__("这个对话已不存在（可能已在别的窗口删除）。")


@dataclass(frozen=True)
class ConversationSummary:
    """One line of the list: what the conversation is called and when it was last answered."""

    id: str
    title: str
    updated_at: datetime  # UTC


@dataclass(frozen=True)
class SavedConversation:
    id: str
    title: str
    answers: tuple[Answer, ...]


def _now() -> str:
    # microseconds: two answers in one second still list in the order they came
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def title_from(question: str) -> str:
    """A new conversation's title: its first question on one line, cut to MAX_TITLE_CHARS."""
    line = _one_line(question) or "（空白问题）"
    return line if len(line) <= MAX_TITLE_CHARS else line[: MAX_TITLE_CHARS - 1] + "…"


def new_title(title: str) -> str:
    """A title a user typed, on one line; empty or too long is a one-line Chinese UserError."""
    line = _one_line(title or "")
    if not line:
        raise UserError("名称不能为空。")
    if len(line) > MAX_TITLE_CHARS:
        raise UserError(f"名称太长：{len(line)} 字，最多 {MAX_TITLE_CHARS} 字。")
    return line


class ConversationStore:
    """Conversations and their turns in `<data_dir>/conversations.sqlite3`; safe to share
    between threads (each call opens its own short connection)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILENAME
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
                db.execute("PRAGMA journal_mode=WAL")
                for statement in _SCHEMA:
                    db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the conversation store {self.path}: {exc}") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock at its start: two answers finishing at
        once wait for each other rather than both reading the same next turn number."""
        try:
            with closing(sqlite3.connect(self.path, timeout=10, isolation_level=None)) as db:
                db.execute("PRAGMA synchronous=FULL")
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")  # on an error the closing connection rolls back
        except sqlite3.Error as exc:
            raise UserError(f"对话没有保存：{exc}") from None

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            yield db

    def _read(self, sql: str, params: tuple) -> list[sqlite3.Row]:
        with self._reading() as db:
            return db.execute(sql, params).fetchall()

    def append(self, owner: str, conversation_id: str | None, answer: Answer) -> str:
        """Add a finished answer as the next turn and return the conversation's id. Without an
        id, or when that conversation is gone (deleted in another window), a new one begins,
        titled with this question."""
        now = _now()
        with self._transaction() as db:
            found = conversation_id and db.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).fetchone()
            if found:
                db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
            else:
                conversation_id = uuid.uuid4().hex
                db.execute(
                    "INSERT INTO conversations (id, owner, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, owner, title_from(answer.question), now, now),
                )
            db.execute(
                "INSERT INTO turns (conversation_id, n, question, answer, created_at)"
                " SELECT ?, COALESCE(MAX(n), 0) + 1, ?, ?, ? FROM turns WHERE conversation_id = ?",
                (conversation_id, answer.question, answer.model_dump_json(), now, conversation_id),
            )
        return conversation_id

    def conversations(self, owner: str, limit: int = LISTED) -> list[ConversationSummary]:
        """The owner's conversations, last answered first, at most `limit`."""
        rows = self._read(
            "SELECT id, title, updated_at FROM conversations WHERE owner = ?"
            " ORDER BY updated_at DESC, rowid DESC LIMIT ?",
            (owner, limit),
        )
        return [ConversationSummary(r["id"], r["title"], datetime.fromisoformat(r["updated_at"])) for r in rows]

    def title(self, owner: str, conversation_id: str) -> str:
        """A conversation's title, without reading its turns (what the rename and delete forms show)."""
        with self._reading() as db:
            return _title(db, owner, conversation_id)

    def get(self, owner: str, conversation_id: str) -> SavedConversation:
        """A conversation with its answers in order, read in one snapshot (a delete from another
        window lands before or after it, never between its title and its turns)."""
        with self._reading() as db:
            db.execute("BEGIN")
            title = _title(db, owner, conversation_id)
            turns = db.execute("SELECT answer FROM turns WHERE conversation_id = ? ORDER BY n", (conversation_id,)).fetchall()
        return SavedConversation(conversation_id, title, tuple(Answer.model_validate_json(t["answer"]) for t in turns))

    def rename(self, owner: str, conversation_id: str, title: str) -> str:
        """Give a conversation a title of the user's (checked by `new_title`); returns it."""
        title = new_title(title)
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?", (title, conversation_id, owner)
            ).rowcount
        if not changed:
            raise Gone()
        return title

    def delete(self, owner: str, conversation_id: str) -> str:
        """Delete a conversation and its turns; returns the title it had."""
        with self._transaction() as db:
            found = db.execute(
                "SELECT title FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).fetchone()
            if not found:
                raise Gone()
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
        return found[0]


def _title(db: sqlite3.Connection, owner: str, conversation_id: str) -> str:
    found = db.execute("SELECT title FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)).fetchone()
    if found is None:
        raise Gone()
    return found["title"]
