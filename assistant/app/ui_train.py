"""The trainer's part of the 评测 tab: a failed item made a training item, 「重新训练」, and the
training data's coverage with the drafts a model wrote.

A thin edge like `ui_eval`: items come from `training_data`, appending from `eval_drafts`,
training from `tune.tune` (what `assistant tune` runs), and the served assistant switches to the
new model with `Assistant.use_model`, without a restart; questions already in flight end on the
old one. Question and report text is shown in textboxes, radio and checkbox labels and table
cells: as text, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from assistant.learn import training_data

from assistant.app.ui_common import friendly
from assistant.evaluation import eval_drafts, runs, sets
from assistant.index.ranking import TrainedModel
from assistant.learn.tune import STEPS, tune
from assistant.settings import Settings

COVERAGE_HEADERS = ["章节", "句子"]
SHOWN_DRAFTS = 60  # drafts offered at a time: accepting or discarding shows the next ones
SHOWN_UNCOVERED = 500


def model_line(assistant) -> str:
    return f"当前作答模型：{runs.ModelStamp.line(runs.ModelStamp.of(assistant.engine.model_meta))}"


def stepped(progress):
    """`progress` saying 「第 3/5 步：训练排序器与拒答器」 for tune's steps."""

    def tell(step: str, done: int, total: int) -> None:
        at = STEPS.index(step)
        share = done / total if total else 1.0
        progress((at + share) / len(STEPS), desc=f"第 {at + 1}/{len(STEPS)} 步：{step}")

    return tell


def retrain(assistant, settings: Settings, progress) -> str:
    """Train on the training sets as `assistant tune` does, then answer with the new model."""
    report = tune(settings, assistant.index, progress=progress, wait=False)
    assistant.use_model(TrainedModel.load(report.folder))
    done = "这些训练数据的模型已经训练过，直接换用" if report.skipped else f"训练用时 {report.seconds:.1f} 秒"
    return f"已换用新模型（{done}）：{report.items} 道训练题，来自 {'、'.join(report.files)}。"


@dataclass
class AddPanel:
    """The form under a clicked row that makes it a training item."""

    group: gr.Column
    question: gr.Textbox
    evidence: gr.Radio
    confirm: gr.Checkbox
    add: gr.Button
    status: gr.Textbox

    @property
    def filled(self) -> list:
        """What `fill` sets, in its order."""
        return [self.group, self.question, self.evidence, self.status, self.confirm]

    def fill(self, settings: Settings, item: runs.RunItem, role: str | None):
        """The form for `item`: its question, its retrieved sentences (the one its set names as
        evidence picked), a warning first when the question is a held-out item's, and no
        confirmation carried over from another item."""
        choices = training_data.evidence_choices(item) if item.expected_answerable else []
        note = "报告中没有答案：加入后训练模型拒答这类问题。" if not item.expected_answerable else "选出回答这个问题的原文句子，再点「加入训练集」。"
        if role == sets.HELD_OUT or sets.matches([item], set(), sets.held_out_keys(settings)):
            note = "这道题出自留出集：原样加进训练集，这个留出集就不能再评测新模型。请把问题换个说法再加入。"
        return (
            gr.Column(visible=True),
            item.question,
            gr.Radio(choices=choices, value=training_data.expected_choice(item, choices), visible=bool(choices)),
            note,
            False,
        )


def add_panel() -> AddPanel:
    with gr.Column(visible=False, variant="panel", elem_id="train-add") as group:
        gr.HTML('<p class="train-title">把这道题加入训练集</p>', padding=False)
        question = gr.Textbox(label="问题（可改写）", lines=1, elem_id="train-question")
        evidence = gr.Radio(label="回答它的原文句子（来自检索到的段落）", choices=[], elem_id="train-evidence")
        with gr.Row(equal_height=True):
            confirm = gr.Checkbox(label="仍然加入（即使与留出集的题相同）", value=False, elem_id="train-confirm")
            add = gr.Button("加入训练集", variant="primary", elem_id="train-add-button")
        status = gr.Textbox(show_label=False, interactive=False, elem_id="train-add-status")
    return AddPanel(group, question, evidence, confirm, add, status)


def add_scored(settings: Settings, item: runs.RunItem, question: str, evidence: str | None, confirmed: bool) -> str:
    made = training_data.from_scored(item, question, evidence, settings.max_question_chars)
    target = eval_drafts.append_items(
        settings, eval_drafts.default_target(settings, sets.TRAINING), [made], sets.TRAINING, confirmed
    )
    return f"已加入 {made.id} 到训练集 {target.name}；点「重新训练」让模型学会它。"


# ------------------------------------------------------------------ coverage and model drafts


def coverage_view(assistant, settings: Settings):
    """The sentences without a training question (the first SHOWN_UNCOVERED) and a line counting them."""
    units = assistant.index.units
    if units is None:
        return [], "这个索引是字词匹配建的，没有可训练的句子。"
    found = training_data.coverage(settings, units)
    rows = [[u.section, u.text] for u in found.uncovered[:SHOWN_UNCOVERED]]
    more = f"（只列出前 {SHOWN_UNCOVERED} 句）" if len(found.uncovered) > SHOWN_UNCOVERED else ""
    hint = "配置了大模型（ASSISTANT_LLM_BASE_URL）时，命令 assistant tune --generate 可以为它们起草训练题，在下面审阅。"
    return rows, f"索引中共 {found.sentences} 句可引用的句子，其中 {len(found.uncovered)} 句还没有训练题{more}。{hint}"


def draft_choices(settings: Settings):
    drafts = training_data.pending(settings)
    shown = [(f"{d.question}　←　「{d.evidence[0] if d.evidence else ''}」", d.id) for d in drafts[:SHOWN_DRAFTS]]
    note = f"待审的草稿题 {len(drafts)} 道" + (f"，先列出 {SHOWN_DRAFTS} 道" if len(drafts) > SHOWN_DRAFTS else "")
    return gr.CheckboxGroup(choices=shown, value=[], label=note)


def training_section(assistant, settings: Settings) -> None:
    """The accordion with the coverage of the training data and the drafts to review."""
    with gr.Accordion("训练数据：覆盖与待审草稿", open=False, elem_id="train-data") as section:
        coverage_note = gr.Textbox(show_label=False, interactive=False, elem_id="train-coverage-note")
        uncovered = gr.Dataframe(
            headers=COVERAGE_HEADERS, datatype="str", interactive=False, wrap=True, max_height=300,
            column_widths=["30%", "70%"], elem_id="train-uncovered",
        )
        drafts = gr.CheckboxGroup(label="待审的草稿题", choices=[], elem_id="train-drafts")
        with gr.Row(equal_height=True):
            confirm = gr.Checkbox(label="仍然加入（即使与留出集的题相同）", value=False)
            accept = gr.Button("勾选的加入训练集", variant="primary", elem_id="train-accept")
            discard = gr.Button("丢弃勾选的", elem_id="train-discard")
        drafts_status = gr.Textbox(show_label=False, interactive=False, elem_id="train-drafts-status")

    @friendly
    def show():
        rows, note = coverage_view(assistant, settings)
        return rows, note, draft_choices(settings)

    @friendly
    def accept_drafts(ids: list[str], confirmed: bool):
        target = training_data.accept(settings, ids, confirmed)
        done = f"已把 {len(ids)} 道草稿题加入训练集 {target.name}；点「重新训练」让模型学会它们。"
        return done, draft_choices(settings), False  # a confirmation is for one click

    @friendly
    def discard_drafts(ids: list[str]):
        return f"已丢弃 {training_data.discard(settings, ids)} 道草稿题。", draft_choices(settings)

    section.expand(show, None, [uncovered, coverage_note, drafts])
    accept.click(accept_drafts, [drafts, confirm], [drafts_status, drafts, confirm]).success(show, None, [uncovered, coverage_note, drafts])
    discard.click(discard_drafts, [drafts], [drafts_status, drafts])
