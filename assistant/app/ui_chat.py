"""One browser's chat: its conversation (answers and feedback, kept server-side in `gr.State`),
whose list it belongs to, and the answer's events paced out as a stream."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answer.chain import Assistant
from assistant.answer_models import Answer
from assistant.app.ui_render import escape, render_answer

# a text piece longer than STREAM_SPLIT_CHARS (a model's deltas are shorter) is shown in
# STREAM_PIECES parts, STREAM_PAUSE_S apart: a visible stream that costs under ~1 s
STREAM_SPLIT_CHARS = 48
STREAM_PIECES = 24
STREAM_PAUSE_S = 0.03
RESET_WAIT_S = 1.0  # how long 新对话 waits for a streaming answer to stop (a model's delta may take longer)
# Without a login, a browser's conversations are found by a random id it keeps in localStorage.
# Gradio encrypts a BrowserState with a key it sends to the page in its config, so the key hides
# nothing; it is fixed so that an id stored before a restart still reads after it (Gradio's
# default, a new random key each start, made every restart lose every browser's conversations).
BROWSER_ID_KEY = BROWSER_ID_SECRET = "assistant-browser-id"
_BROWSER_ID = re.compile(r"[0-9a-f]{32}")
Event = str | Answer


def owner_of(username: str | None, browser_id: object) -> tuple[str, object]:
    """(whose conversations these are, the id the browser should keep): the login user when
    there is a login, so they are theirs on any browser; else the browser's own random id, or a
    new one when it holds none (or anything but such an id)."""
    if username:
        return f"user:{username}", browser_id
    if not (isinstance(browser_id, str) and _BROWSER_ID.fullmatch(browser_id)):
        browser_id = uuid.uuid4().hex
    return f"browser:{browser_id}", browser_id


@dataclass
class Conversation:
    """One browser session's answers and the feedback row of each rated answer."""

    owner: str | None = None  # whose list it is kept in (set when the page loads)
    id: str | None = None  # its id in the list, from its first finished answer on
    answers: list[Answer] = field(default_factory=list)
    feedback: dict[int, str] = field(default_factory=dict)
    commenting: int | None = None
    epoch: int = 0  # bumped by every reset: an answer begun before it belongs to no conversation
    streaming: bool = False  # while an answer streams (gr.State deep-copies this, so no lock)
    exports: Path | None = None  # this conversation's own folder for its exported files, made on first use

    def reset(self) -> None:
        """Forget every turn, in place: an answer still streaming holds this very object, and
        must find out that its conversation is gone rather than write it back."""
        self.id = None
        self.answers.clear()
        self.feedback.clear()
        self.commenting = None
        self.epoch += 1

    def settle(self, timeout_s: float = RESET_WAIT_S) -> None:
        """Wait (a little) for a streaming answer to see the reset and stop, so that its last
        piece reaches the page before the empty chat does, not after it."""
        deadline = time.monotonic() + timeout_s
        while self.streaming and time.monotonic() < deadline:
            time.sleep(0.02)

    def history(self) -> list[tuple[str, str]]:
        return [(a.question, a.answer) for a in self.answers]

    def messages(self) -> list[dict]:
        out: list[dict] = []
        for turn, answer in enumerate(self.answers):
            out.append({"role": "user", "content": escape(answer.question)})
            out.append({"role": "assistant", "content": render_answer(answer, turn)})
        return out


def answer_events(assistant: Assistant, question: str, history: list[tuple[str, str]]) -> Iterator[Event]:
    """`Assistant.stream`: text pieces, then the whole `Answer`, which supersedes them.

    A language model streams small deltas; the extractive answer comes as one piece, which is
    paced out here in short pieces so it reads as a stream too.
    """
    for event in assistant.stream(question, history):
        if isinstance(event, Answer) or len(event) <= STREAM_SPLIT_CHARS:
            yield event
            continue
        size = -(-len(event) // STREAM_PIECES)
        for start in range(0, len(event), size):
            yield event[start : start + size]
            time.sleep(STREAM_PAUSE_S)
