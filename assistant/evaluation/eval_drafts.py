"""Growing the sets from 👎 feedback and from the 评测 tab: a trainer completes an item (the
question prefilled) and appends it to a JSONL set they choose, as a training item (the default:
it teaches the next model) or a held-out one (it only measures).

The file must stay inside the evaluation-set, training-set or data folder, whatever the typed
path says (`..`, absolute paths and symlinks are resolved first); held-out drafts go by default
to the data folder, so they never land in the checkout, training items to the training folder,
where `assistant tune` finds them. A set keeps one role: a training item is never appended to a
held-out set, nor the reverse. A training item whose question repeats a held-out item's is
refused until the trainer confirms it (teaching to the test makes that set useless for the next
model). Appending is one O_APPEND write, so existing items are never rewritten and a crash loses
at most the new lines. Messages are in Chinese: trainers read them.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

from pydantic import ValidationError

from assistant.errors import UserError
from assistant.evaluation import sets
from assistant.evaluation.evaluate import EvalItem, load_jsonl
from assistant.evaluation.feedback import FeedbackItem
from assistant.settings import Settings

DEFAULT_FILE = "feedback_drafts.jsonl"  # held-out drafts, in the data folder
TRAINING_FILE = "trainer.jsonl"  # training items added in the 评测 tab, in the training folder
FIELD_NAMES = {"id": "id", "question": "问题", "reference_answer": "参考答案", "category": "类别"}
NAME_MAX = 255  # bytes in one file or folder name (Linux file systems)


class RepeatsHeldOut(UserError):
    """A training item asks what a held-out item asks; the trainer must confirm it."""


def allowed_folders(settings: Settings) -> list[Path]:
    return [settings.evals_dir.resolve(), settings.train_dir.resolve(), settings.data_dir.resolve()]


def default_target(settings: Settings, role: str) -> str:
    return str(settings.train_dir / TRAINING_FILE if role == sets.TRAINING else settings.data_dir / DEFAULT_FILE)


def targets(settings: Settings, role: str) -> list[str]:
    """The files the 评测 tab offers for a role: its default, then the JSONL sets of that role."""
    listed = [str(p) for p, r in sets.listed_sets(settings) if r == role and p.suffix == ".jsonl"]
    return list(dict.fromkeys([default_target(settings, role), *listed]))


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
    role: str = sets.HELD_OUT,
) -> EvalItem:
    """A draft's form fields as a validated item. An answerable held-out item needs strings to
    check the answer by; an answerable training item needs its evidence, which is what training
    learns from (`must_include` is not used by it)."""
    must, found = split_list(must_include), split_list(evidence)
    if answerable and role == sets.HELD_OUT and not must:
        raise UserError("请填写 must_include：正确回答必须包含的字符串，用 | 分隔")
    if answerable and role == sets.TRAINING and not found:
        raise UserError("请填写 evidence：报告中回答这个问题的原文句子（训练要用它），多句用 | 分隔")
    try:
        return EvalItem(
            id=id.strip(),
            question=question.strip(),
            answerable=answerable,
            must_include=must,
            evidence=found,
            reference_answer=reference_answer.strip() or None,
            category=category.strip() or None,
        )
    except ValidationError as exc:
        field = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise UserError(f"{FIELD_NAMES.get(field, field)}填写得不对，请检查") from None


def append_items(settings: Settings, raw_target: str, items: list[EvalItem], role: str, confirmed: bool = False) -> Path:
    """Append `items` (as JSONL lines, in one write) to a set of role `role`; an id already in the
    file is refused, and so is a training item repeating a held-out question unless `confirmed`.
    A new file whose role is not its folder's gets it recorded (`sets.set_role`)."""
    if not all(item.id for item in items):
        raise UserError("请填写题目的 id")
    target = resolve_target(settings, raw_target)
    existing = target.is_file()
    if existing and sets.role_of(settings, target) != role:
        raise UserError(f"{target.name} 是{sets.role_name(sets.role_of(settings, target))}，不能加入{sets.role_name(role)}的题；请换一个文件")
    try:
        taken = {item.id for item in load_jsonl(target).items} if existing else set()
    except (OSError, UnicodeDecodeError):
        raise UserError(f"{target} 不是可读的 UTF-8 JSONL 文件") from None
    if repeated := [item.id for item in items if item.id in taken]:
        raise UserError(
            f"没有追加：{target.name} 里已经有 id 为 {repeated[0]} 的题目。"
            "同一个 id 只能出现一次；确实要再加一题，请改一个 id。"
        )
    if role == sets.TRAINING and not confirmed:
        _refuse_held_out_repeats(settings, items)
    if not existing and sets.role_of(settings, target) != role:
        sets.set_role(settings, target, role)
    append_lines(target, [item.model_dump_json(exclude_defaults=True) for item in items])
    return target


def _refuse_held_out_repeats(settings: Settings, items: list[EvalItem]) -> None:
    found = sets.matches(items, set(), sets.held_out_keys(settings))
    if found:
        m = found[0]
        raise RepeatsHeldOut(
            f"先别加：「{m.question}」与留出集 {m.other} 的问题相同。训练过它的模型不能再用这个留出集评测（会被拒绝）；"
            "请换一种问法。确实要加，请勾选「仍然加入」再点一次。"
        )


def append_lines(target: Path, lines: list[str]) -> None:
    """One O_APPEND write of whole lines, after a newline if the file does not end in one."""
    data = "".join(line + "\n" for line in lines)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as handle:
            if handle.tell() > 0:
                with open(target, "rb") as current:
                    current.seek(-1, os.SEEK_END)
                    if current.read(1) != b"\n":
                        data = "\n" + data
            handle.write(data.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise UserError(f"无法写入 {target}：{exc.strerror or exc}") from None
