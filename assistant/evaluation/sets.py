"""Evaluation sets and their roles: a *training* set teaches the model, a *held-out* set only
measures it.

A folder's roles are kept beside its sets in `roles.toml` (`"name.jsonl" = "held-out"`), so a
set stays a plain JSONL or CSV file every loader reads. `assistant tune` learns from every set
of the evaluation folder and the training folder whose role is training; a set the sidecar does
not name takes its folder's role (the training folder's train, the evaluation folder's measure).
Any other set (the drafts in the data folder, an upload) only measures.

Teaching to the test is checked by overlap: an item of a held-out set overlaps a model when its
id, or its question normalised as answering normalises it (with the questions before it, for a
follow-up), is among the model's training items. Models record both (`question_keys`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from assistant.errors import UserError
from assistant.evaluation.evaluate import LOADERS, EvalItem, LoadReport, load_eval_set
from assistant.files import atomic_write
from assistant.ingest.normalize import normalize_query
from assistant.settings import Settings

TRAINING, HELD_OUT = "training", "held-out"
ROLES = (TRAINING, HELD_OUT)
ROLE_NAMES = {TRAINING: "训练集", HELD_OUT: "留出集"}
SIDECAR = "roles.toml"
SIDECAR_HEADER = (
    "# The role of each evaluation set in this folder (assistant/evaluation/sets.py): \"training\" teaches the\n"
    "# model (`assistant tune` learns from these), \"held-out\" only measures it. A set not named\n"
    "# here takes the folder's role: training in the training folder, held-out elsewhere.\n"
)


def role_name(role: str) -> str:
    """The role as trainers read it (训练集, 留出集)."""
    return ROLE_NAMES.get(role, role)


def _declared(folder: Path) -> dict[str, str]:
    path = folder / SIDECAR
    if not path.is_file():
        return {}
    try:
        roles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path} is not a readable roles file ({exc})") from None
    bad = {name: role for name, role in roles.items() if role not in ROLES}
    if bad:
        name, role = next(iter(bad.items()))
        raise UserError(f"{path}: {name} has the role {role!r}; a role is one of {', '.join(ROLES)}")
    return roles


def _folder_role(settings: Settings, path: Path) -> str | None:
    """The role of a set the sidecar does not name; None outside the two folders sets train from."""
    where = path.resolve().parent
    if where == settings.train_dir.resolve():
        return TRAINING
    return HELD_OUT if where == settings.evals_dir.resolve() else None


def role_of(settings: Settings, path: Path) -> str:
    folder_role = _folder_role(settings, path)
    if folder_role is None:
        return HELD_OUT
    return _declared(path.parent).get(path.name, folder_role)


def set_role(settings: Settings, path: Path, role: str) -> None:
    """Record `path`'s role in its folder's sidecar (rewritten whole, atomically)."""
    if _folder_role(settings, path) is None:
        raise UserError(f"{path.name} 不在评测集目录 {settings.evals_dir} 或训练集目录 {settings.train_dir} 中，不能用来训练")
    roles = {**_declared(path.parent), path.name: role}
    lines = [f"{_toml_string(name)} = {_toml_string(value)}\n" for name, value in sorted(roles.items())]
    atomic_write(path.parent / SIDECAR, SIDECAR_HEADER + "".join(lines))


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in escaped) + '"'


def _sets_in(folder: Path, suffixes: Iterable[str] = LOADERS) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def listed_sets(settings: Settings) -> list[tuple[Path, str]]:
    """The evaluation folder's sets, then the training folder's, each with its role (the 评测 tab offers them)."""
    paths = dict.fromkeys(_sets_in(settings.evals_dir) + _sets_in(settings.train_dir))
    return [(p, role_of(settings, p)) for p in paths]


def training_files(settings: Settings) -> list[Path]:
    """What `assistant tune` learns from: the listed sets whose role is training."""
    return [p for p, role in listed_sets(settings) if role == TRAINING]


def held_out_files(settings: Settings) -> list[Path]:
    """Every held-out set a training item must not repeat: the listed ones and the data folder's drafts."""
    listed = [p for p, role in listed_sets(settings) if role == HELD_OUT]
    return listed + [p for p in _sets_in(settings.data_dir, (".jsonl",)) if p not in listed]


def question_key(question: str, history: Iterable[tuple[str, str]] = ()) -> str:
    """A question as overlap is judged: answering's normalisation (`normalize_query`: NFKC,
    simplified characters, numerals, the report's wording) with only its letters and digits kept
    (「多少员工？」 asks what 「多少员工」 asks); a follow-up with the questions before it."""
    return "\x1f".join("".join(ch for ch in normalize_query(q) if ch.isalnum()) for q in [*(q for q, _ in history), question])


@dataclass(frozen=True)
class Match:
    """An item that is also a training item: by which id or normalised question, and whose."""

    id: str
    question: str
    by: str  # "id" or "问题"
    other: str  # the matching item's id (and, for a held-out item, its set)


def matches(items: Iterable[EvalItem], ids: set[str], keys: dict[str, str]) -> list[Match]:
    """The `items` whose id is in `ids` or whose question key is one of `keys` (key → its id)."""
    found = []
    for item in items:
        if item.id in ids:
            found.append(Match(item.id, item.question, "id", item.id))
        elif (other := keys.get(question_key(item.question, item.history))) is not None:
            found.append(Match(item.id, item.question, "问题", other))
    return found


def held_out_keys(settings: Settings) -> dict[str, str]:
    """Every held-out item's question key → "set: id", for the warning before a training item is added."""
    keys: dict[str, str] = {}
    for path in held_out_files(settings):
        try:
            items = load_eval_set(path).items
        except UserError:
            continue  # an empty or unreadable set holds nothing to repeat
        for item in items:
            keys.setdefault(question_key(item.question, item.history), f"{path.name}: {item.id}")
    return keys


def trained_on(model_meta: dict) -> tuple[set[str], dict[str, str]]:
    """The training items' ids and question keys a model recorded."""
    if "question_keys" not in model_meta:
        raise UserError("这个模型没有记录它训练过的题目，无法确认留出集没有被训练过；请先运行 `assistant tune` 重新训练")
    return set(model_meta.get("question_ids", [])), model_meta["question_keys"]


def guard_held_out(loaded: LoadReport, name: str, model_meta: dict | None, drop_trained: bool) -> LoadReport:
    """A held-out set run against a model: refused when the model trained on any of its items
    (the message names them), or, with `drop_trained`, those items skipped and named."""
    if model_meta is None:
        return loaded  # the hand-written rules learned from nothing
    ids, keys = trained_on(model_meta)
    found = matches(loaded.items, ids, keys)
    if not found:
        return loaded
    if not drop_trained:
        shown = "；".join(f"{m.id}「{m.question}」（{m.by}同训练题 {m.other}）" for m in found[:5])
        more = f"等 {len(found)} 题" if len(found) > 5 else f"共 {len(found)} 题"
        raise UserError(
            f"不评测：{name} 是留出集，而当前模型（训练数据 {model_meta['training_hash'][:12]}）训练过其中的题：{shown}，{more}。"
            "留出集只能评测没学过它的模型：去掉这些题再评测（命令行 --drop-trained，评测页勾选「去掉模型训练过的题」），或换一个留出集。"
        )
    dropped = {m.id: m for m in found}
    kept = [(line, item) for line, item in zip(loaded.lines, loaded.items) if item.id not in dropped]
    notes = [f"line {line}: id: '{item.id}' skipped, the model trained on it ({dropped[item.id].by}同训练题 {dropped[item.id].other})"
             for line, item in zip(loaded.lines, loaded.items) if item.id in dropped]
    if not kept:
        raise UserError(f"不评测：{name} 的每一题当前模型都训练过，去掉后没有题可评测")
    return LoadReport(items=[i for _, i in kept], errors=loaded.errors + notes, lines=[line for line, _ in kept])
