"""Sets have a role: training sets teach the model, held-out sets only measure it, and a held-out
set is never run against a model that trained on it; a training item repeating a held-out
question is refused until the trainer confirms it."""

from __future__ import annotations

import pytest

from assistant.errors import UserError
from assistant.evaluation import eval_drafts, sets
from assistant.evaluation.evaluate import EvalItem, load_eval_set
from conftest import ROOT, make_settings
from support.tiny_report import HELD_OUT, TRAINING, write_set


@pytest.fixture
def settings(tmp_path):
    s = make_settings(tmp_path, tmp_path / "corpus").model_copy(
        update={"evals_dir": tmp_path / "evals", "train_dir": tmp_path / "evals" / "train"}
    )
    write_set(s.train_dir / "train.jsonl", TRAINING)
    write_set(s.evals_dir / "held.jsonl", HELD_OUT)
    return s


def test_a_set_takes_its_folders_role_unless_its_sidecar_says_otherwise(settings):
    train, held = settings.train_dir / "train.jsonl", settings.evals_dir / "held.jsonl"
    assert sets.role_of(settings, train) == sets.TRAINING and sets.role_of(settings, held) == sets.HELD_OUT
    assert sets.training_files(settings) == [train]
    dev = write_set(settings.evals_dir / "dev.jsonl", TRAINING[:2])
    sets.set_role(settings, dev, sets.TRAINING)  # a spent held-out set turned into training data
    assert 'dev.jsonl" = "training"' in (settings.evals_dir / "roles.toml").read_text(encoding="utf-8")
    assert sets.training_files(settings) == [dev, train]
    sets.set_role(settings, train, sets.HELD_OUT)
    assert sets.training_files(settings) == [dev]
    drafts = write_set(settings.data_dir / "drafts.jsonl", TRAINING[:1])
    assert sets.role_of(settings, drafts) == sets.HELD_OUT  # tune never reads the data folder
    with pytest.raises(UserError, match="不能用来训练"):
        sets.set_role(settings, drafts, sets.TRAINING)
    (settings.evals_dir / "roles.toml").write_text('"dev.jsonl" = "maybe"\n', encoding="utf-8")
    with pytest.raises(UserError, match="a role is one of training, held-out"):
        sets.role_of(settings, dev)


def test_the_checkouts_sets_are_marked_training_and_held_out():
    checkout = make_settings(ROOT, ROOT / "corpus").model_copy(update={"evals_dir": ROOT / "evals", "train_dir": ROOT / "evals" / "train"})
    roles = dict((path.name, role) for path, role in sets.listed_sets(checkout))
    assert roles["report_qa.jsonl"] == roles["holdout6_qa.jsonl"] == sets.HELD_OUT
    assert all(role == sets.TRAINING for name, role in roles.items() if name.startswith("report_part") or name == "unanswerable.jsonl")
    assert {p.name for p in sets.training_files(checkout)} == {p.name for p in (ROOT / "evals" / "train").glob("*.jsonl")}
    for folder in (ROOT / "evals", ROOT / "evals" / "train"):  # explicitly, not by default
        declared = sets._declared(folder)
        assert set(declared) == {p.name for p in folder.glob("*.jsonl")}


def model_meta(items: list[dict]) -> dict:
    """What `assistant tune` records about what it trained on."""
    loaded = [EvalItem(**i) for i in items]
    return {"training_hash": "f" * 64, "question_ids": [i.id for i in loaded],
            "question_keys": {sets.question_key(i.question, i.history): i.id for i in loaded}}


def test_a_held_out_set_the_model_trained_on_is_refused_naming_the_overlap(settings):
    loaded = load_eval_set(settings.evals_dir / "held.jsonl")
    assert sets.guard_held_out(loaded, "held.jsonl", model_meta(TRAINING), False) is loaded
    # the same question in other characters and spacing, and an item that kept its id
    taught = TRAINING + [{"id": "t9", "question": "  研發經費投得夠不夠 ", "answerable": False}, {**HELD_OUT[3], "question": "别的问法"}]
    with pytest.raises(UserError) as refused:
        sets.guard_held_out(loaded, "held.jsonl", model_meta(taught), False)
    message = str(refused.value)
    assert "held.jsonl 是留出集" in message and "h-rd-money" in message and "t9" in message and "h-platform" in message
    assert "--drop-trained" in message and "\n" not in message
    kept = sets.guard_held_out(loaded, "held.jsonl", model_meta(taught), True)
    assert [i.id for i in kept.items] == ["h-talent-flow", "h-talent-keep", "h-talent-top"]
    assert len(kept.errors) == 2 and all("the model trained on it" in e for e in kept.errors)
    with pytest.raises(UserError, match="没有题可评测"):
        sets.guard_held_out(loaded, "held.jsonl", model_meta(HELD_OUT), True)
    with pytest.raises(UserError, match="没有记录"):  # a model from before models recorded their questions
        sets.guard_held_out(loaded, "held.jsonl", {"training_hash": "f" * 64, "question_ids": []}, False)


def test_a_follow_up_overlaps_only_in_the_same_conversation():
    asked = sets.question_key("那温州呢？", [("杭州有多少个产业集群？", "124 个")])
    assert asked == sets.question_key("那温州呢", [("杭州有多少个产业集群", "答案不算")])
    assert asked != sets.question_key("那温州呢？", [("杭州一年产值多少？", "3380 亿元")])
    assert asked != sets.question_key("那温州呢？")


def test_a_training_item_repeating_a_held_out_question_is_refused_until_confirmed(settings):
    target = eval_drafts.default_target(settings, sets.TRAINING)
    repeat = EvalItem(id="tr-1", question="留住人才，报告咋说？", answerable=True, evidence=["引进高层次人才，完善人才政策。"])
    with pytest.raises(eval_drafts.RepeatsHeldOut, match="held.jsonl: h-talent-keep"):
        eval_drafts.append_items(settings, target, [repeat], sets.TRAINING)
    assert not (settings.train_dir / "trainer.jsonl").exists()
    path = eval_drafts.append_items(settings, target, [repeat], sets.TRAINING, confirmed=True)
    assert [i.id for i in load_eval_set(path).items] == ["tr-1"] and path in sets.training_files(settings)
    with pytest.raises(UserError, match="是训练集，不能加入留出集的题"):
        eval_drafts.append_items(settings, str(path), [repeat.model_copy(update={"id": "x"})], sets.HELD_OUT)
    with pytest.raises(UserError, match="是留出集，不能加入训练集的题"):
        eval_drafts.append_items(settings, str(settings.evals_dir / "held.jsonl"), [repeat], sets.TRAINING, confirmed=True)
    with pytest.raises(UserError, match="不能用来训练"):  # a new training set where tune never looks
        eval_drafts.append_items(settings, str(settings.data_dir / "mine.jsonl"), [repeat], sets.TRAINING, confirmed=True)


def test_a_training_draft_needs_its_evidence_and_a_held_out_one_its_strings():
    with pytest.raises(UserError, match="evidence"):
        eval_drafts.build_item("fb-1", "问题？", True, "", "甲", "", "feedback", sets.TRAINING)
    with pytest.raises(UserError, match="must_include"):
        eval_drafts.build_item("fb-1", "问题？", True, "", "", "原文。", "feedback", sets.HELD_OUT)
    item = eval_drafts.build_item("fb-1", "问题？", True, "", "", "原文甲。 | 原文乙。", "feedback", sets.TRAINING)
    assert item.evidence == ["原文甲。", "原文乙。"] and item.must_include == []
