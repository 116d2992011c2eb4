"""Growing the evaluation set from 👎 feedback: a trainer completes a draft item (the question
prefilled, reference and must_include to fill) and appends it to a JSONL set they choose.

The file must stay inside the evaluation-set folder or the data folder, whatever the typed path
says (`..`, absolute paths and symlinks are resolved first); by default it is in the data folder,
so drafts never land in the checkout. Appending is one O_APPEND write, so existing items are
never rewritten and a crash loses at most the new line. Messages are in Chinese: trainers read them.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

from pydantic import ValidationError

from assistant.errors import UserError
from assistant.evaluate import EvalItem, load_jsonl
from assistant.feedback import FeedbackItem
from assistant.settings import Settings

DEFAULT_FILE = "feedback_drafts.jsonl"
FIELD_NAMES = {"id": "id", "question": "问题", "reference_answer": "参考答案", "category": "类别"}
NAME_MAX = 255  # bytes in one file or folder name (Linux file systems)


def allowed_folders(settings: Settings) -> list[Path]:
    return [settings.evals_dir.resolve(), settings.data_dir.resolve()]


def default_target(settings: Settings) -> str:
    return str(settings.data_dir / DEFAULT_FILE)


def draft_id(feedback: FeedbackItem) -> str:
    return f"fb-{feedback.id[:8]}"


def drafted(settings: Settings) -> dict[str, str]:
    """Draft ids already in a JSONL set (the default file and the sets directly in an allowed
    folder) → the file's name: which 👎 answers a trainer has already turned into items."""
    files: set[Path] = set()  # (the default file lies in the data folder, one of these)
    for folder in allowed_folders(settings):
        if folder.is_dir():
            files.update(p.resolve() for p in folder.glob("*.jsonl"))
    found: dict[str, str] = {}
    for path in sorted(files):
        try:
            lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            try:
                id_ = json.loads(line).get("id") if line.strip() else None
            except (ValueError, AttributeError):
                continue
            if isinstance(id_, str) and id_.startswith("fb-"):
                found.setdefault(id_, path.name)
    return found


def check_name(raw: str) -> None:
    """A typed file name the file system can take, or a one-line Chinese UserError: a NUL byte
    or a 300-character name once reached the file system and came back as Gradio's bare
    "Error"."""
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise UserError("文件名里有控制字符（例如 NUL），请只用普通文字")
    try:
        encoded = [part.encode("utf-8") for part in Path(raw).parts]
    except UnicodeEncodeError:
        raise UserError("文件名不是有效的文字（含有落单的代理字符），请重新输入") from None
    longest = max((len(part) for part in encoded), default=0)
    if longest > NAME_MAX:
        raise UserError(f"文件名太长：每一级最多 {NAME_MAX} 字节，这里有一级 {longest} 字节")


def resolve_target(settings: Settings, raw: str) -> Path:
    """The JSONL file a draft goes to, refused unless it lies inside an allowed folder."""
    raw = (raw or "").strip()
    if not raw:
        raise UserError("请选择或填写要追加到的 JSONL 文件")
    check_name(raw)
    try:
        target = Path(raw).expanduser().resolve()
        folders = allowed_folders(settings)
        if not any(target.is_relative_to(folder) and target != folder for folder in folders):
            raise UserError(f"{raw} 不在允许的文件夹内（只能写入：{'、'.join(str(f) for f in folders)}）")
        if target.suffix.lower() != ".jsonl":
            raise UserError(f"{raw} 不是 .jsonl 文件")
        if target.is_dir():
            raise UserError(f"{raw} 是一个文件夹，不是文件")
    except (OSError, ValueError) as exc:  # whatever else the file system refuses (a path too long …)
        raise UserError(f"无法使用这个文件名：{getattr(exc, 'strerror', None) or exc}") from None
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
        raise UserError("请填写 must_include：正确回答必须包含的字符串，用 | 分隔")
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
        field = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise UserError(f"{FIELD_NAMES.get(field, field)}填写得不对，请检查") from None


def append_item(settings: Settings, raw_target: str, item: EvalItem) -> Path:
    """Append `item` as one JSONL line; an id already in the file is refused."""
    if not item.id:
        raise UserError("请填写题目的 id")
    target = resolve_target(settings, raw_target)
    try:
        taken = {existing.id for existing in load_jsonl(target).items} if target.is_file() else set()
    except (OSError, UnicodeDecodeError):
        raise UserError(f"{target} 不是可读的 UTF-8 JSONL 文件") from None
    if item.id in taken:
        raise UserError(
            f"没有追加：{target.name} 里已经有 id 为 {item.id} 的题目（这条反馈已经转成过评测题）。"
            "同一个 id 只能出现一次；确实要再加一题，请改一个 id。"
        )
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
        raise UserError(f"无法写入 {target}：{exc.strerror or exc}") from None
    return target
