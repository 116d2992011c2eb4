"""Growing the evaluation set from 👎 feedback: a trainer completes a draft item (the question
prefilled, reference and must_include to fill) and appends it to a JSONL set they choose.

The file must stay inside the evaluation-set folder or the data folder, whatever the typed path
says (`..`, absolute paths and symlinks are resolved first). Appending is one O_APPEND write,
so existing items are never rewritten and a crash loses at most the new line.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from assistant.errors import UserError
from assistant.evaluate import EvalItem, load_jsonl
from assistant.feedback import FeedbackItem
from assistant.settings import Settings

DEFAULT_FILE = "feedback_drafts.jsonl"


def allowed_folders(settings: Settings) -> list[Path]:
    return [settings.evals_dir.resolve(), settings.data_dir.resolve()]


def default_target(settings: Settings) -> str:
    return str(settings.evals_dir / DEFAULT_FILE)


def draft_id(feedback: FeedbackItem) -> str:
    return f"fb-{feedback.id[:8]}"


def resolve_target(settings: Settings, raw: str) -> Path:
    """The JSONL file a draft goes to, refused unless it lies inside an allowed folder."""
    raw = (raw or "").strip()
    if not raw:
        raise UserError("choose the JSONL file the item is appended to")
    target = Path(raw).expanduser().resolve()
    folders = allowed_folders(settings)
    if not any(target.is_relative_to(folder) and target != folder for folder in folders):
        raise UserError(f"{raw} is outside the allowed folders ({', '.join(str(f) for f in folders)})")
    if target.suffix.lower() != ".jsonl":
        raise UserError(f"{raw} is not a .jsonl file")
    if target.is_dir():
        raise UserError(f"{raw} is a folder")
    return target


def split_list(text: str | None) -> list[str]:
    """`a | b | c` → ["a", "b", "c"]: the list syntax of CSV sets, reused for the form fields."""
    return [part.strip() for part in (text or "").split("|") if part.strip()]


def build_item(
    id: str,
    question: str,
    answerable: bool,
    reference_answer: str,
    must_include: str,
    evidence: str,
    category: str,
) -> EvalItem:
    """A draft's form fields as a validated item; an answerable item needs strings to check."""
    must = split_list(must_include)
    if answerable and not must:
        raise UserError("fill must_include: the strings a right answer contains, separated by |")
    try:
        return EvalItem(
            id=id.strip(),
            question=question.strip(),
            answerable=answerable,
            must_include=must,
            evidence=split_list(evidence),
            reference_answer=reference_answer.strip() or None,
            category=category.strip() or None,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise UserError(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}") from None


def append_item(settings: Settings, raw_target: str, item: EvalItem) -> Path:
    """Append `item` as one JSONL line; an id already in the file is refused."""
    if not item.id:
        raise UserError("the item needs an id")
    target = resolve_target(settings, raw_target)
    try:
        taken = {existing.id for existing in load_jsonl(target).items} if target.is_file() else set()
    except (OSError, UnicodeDecodeError):
        raise UserError(f"{target} is not a readable UTF-8 JSONL file") from None
    if item.id in taken:
        raise UserError(f"{target.name} already has an item with id {item.id}")
    line = item.model_dump_json(exclude_defaults=True) + "\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as handle:
            if handle.tell() > 0:
                with open(target, "rb") as current:
                    current.seek(-1, os.SEEK_END)
                    if current.read(1) != b"\n":
                        line = "\n" + line
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise UserError(f"cannot append to {target}: {exc.strerror or exc}") from None
    return target
