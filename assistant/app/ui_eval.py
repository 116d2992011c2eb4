"""The 评测 tab of `assistant serve`: run an evaluation set with a progress bar, filter and read
the results, download them, compare past runs, and close the trainer's loop: a failed item made
a training item, 「重新训练」, and 👎 feedback made a training or held-out item.

A thin edge: answers come from `Assistant.ask`, scoring from `evaluate`, storage from `runs`,
pages from `report`, drafts from `eval_drafts`, the training pieces from `ui_train`. Text from
the set, the answers or the report reaches the page escaped (by `report`'s autoescaping
templates) or as plain table cells, labels and textbox values, never as markup.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gradio as gr

from assistant.app import ui_train

from assistant.app.ui_common import friendly
from assistant.errors import UserError
from assistant.evaluation import eval_drafts, keep, report, runs, sets
from assistant.evaluation.comparison import compare as compare_runs, comparison_html, comparison_text
from assistant.evaluation.evaluate import LOADERS, load_eval_set
from assistant.evaluation.feedback import FeedbackItem, FeedbackStore
from assistant.settings import Settings

ALL = "全部"
PASS, FAIL = "通过", "未通过"
TABLE_HEADERS = ["id", "类别", "问题", "结果", "缺少", "证据排名", "延迟 ms"]
PAGE_ROWS = 200  # rows of the table at a time: a run may hold 50,000 items
FEEDBACK_HEADERS = ["编号", "时间", "问题", "说明", "已转为评测题", "回答（开头）"]
ANSWER_PREVIEW_CHARS = 40  # the whole answer made each row 2,000 px tall; it is in the form below


def counted(progress):
    """`progress` saying 「第 41/160 题」 where Gradio says 「41/160 steps」."""
    return lambda done, total: progress(done / total if total else 0.0, desc=f"第 {done}/{total} 题")


def eval_sets(settings: Settings) -> list[tuple[str, str]]:
    """The sets offered, each labelled with its role: (「report_qa.jsonl · 留出集」, its path)."""
    return [(f"{path.name} · {sets.role_name(role)}", str(path)) for path, role in sets.listed_sets(settings)]


def uploaded_file(path: str, limit: int) -> Path:
    """`path` when it is a file Gradio's upload route wrote (inside its upload folder, no link
    leading out) and within the upload limit; else a UserError that does not show the path."""
    from gradio.utils import get_upload_folder

    real = Path(path).resolve()
    if not real.is_file() or not real.is_relative_to(Path(get_upload_folder()).resolve()):
        raise UserError("只能评测本页上传的文件，请重新上传")
    if real.stat().st_size > limit:
        raise UserError(f"上传的文件太大（上限 {limit // 1024} KB）")
    return real


def run_choices(metas: list[runs.RunMeta]) -> list[tuple[str, str]]:
    return [(f"{m.id} · {Path(m.eval_set).name} · {m.mode} · {m.describe_model(short=True)}", m.id) for m in metas]


def compared_pair(metas: list[runs.RunMeta], run_id: str) -> tuple[str | None, str]:
    """For a run just made: the run before it on the same set (A) and itself (B); `metas` newest first."""
    this = next(m for m in metas if m.id == run_id)
    earlier = [m.id for m in metas if m.eval_set == this.eval_set and m.id < run_id]
    return (earlier[0] if earlier else None), run_id


def table_page(run: runs.KeptRun | None, category: str, verdict: str, page: int) -> tuple[list[list], dict, int, int]:
    """One page of the filtered table, streamed from the run's short rows (a run is never read
    whole to show it): the rows, where each shown item is (id → [offset, number in the set]),
    the page shown (within range) and how many rows match the filters."""
    if run is None:
        return [], {}, 1, 0
    page = max(1, int(page or 1))
    matching, shown, where = 0, [], {}
    for number, r in enumerate(run.rows(), start=1):
        name = r.category or report.UNCATEGORISED
        if category not in (ALL, name) or (verdict == PASS and not r.correct) or (verdict == FAIL and r.correct):
            continue
        matching += 1
        if (page - 1) * PAGE_ROWS < matching <= page * PAGE_ROWS:
            rank = "" if r.evidence_rank is None else str(r.evidence_rank)
            shown.append([r.id, name, r.question, f"✓ {PASS}" if r.correct else f"✗ {FAIL}", " | ".join(r.missing), rank, f"{r.latency_ms:.0f}"])
            where[r.id] = [r.at, number]
    last = max(1, -(-matching // PAGE_ROWS))
    if page > last:
        return table_page(run, category, verdict, last)
    return shown, where, page, matching


def page_note(page: int, matching: int) -> str:
    if not matching:
        return "没有符合条件的题目"
    first = (page - 1) * PAGE_ROWS + 1
    return f"第 {page} / {-(-matching // PAGE_ROWS)} 页 · 显示第 {first}–{min(matching, page * PAGE_ROWS)} 题，共 {matching} 题"


def downloads(meta: runs.RunMeta, folder: Path, out: Path) -> tuple[str, str]:
    """Copies of the run's CSV and HTML in `out`, a temporary folder Gradio may serve, named by run id."""
    csv_path, html_path = out / f"{meta.id}-results.csv", out / f"{meta.id}-report.html"
    shutil.copyfile(folder / "results.csv", csv_path)
    shutil.copyfile(folder / "report.html", html_path)
    return str(csv_path), str(html_path)


def eval_tab(assistant, settings: Settings) -> None:
    """Build the tab's components and events inside the caller's `with gr.Tab(...)` block."""
    css = report.item_css()
    exports = Path(tempfile.mkdtemp(prefix="assistant-eval-"))  # download copies, one per run
    current = gr.State(None)  # the run on show: {"run": its id, "shown": {item id: [offset, number]}}
    picked = gr.State(None)  # the item clicked: {"run": its id, "at": its offset}
    with gr.Row(equal_height=True):
        choices = eval_sets(settings)
        eval_set = gr.Dropdown(
            label=f"评测集（{settings.evals_dir}/，训练集在 {settings.train_dir}/）", choices=choices,
            value=choices[0][1] if choices else None, scale=3, elem_id="eval-set",
        )
        upload = gr.File(label="或上传 JSONL / CSV", file_types=list(LOADERS), type="filepath", scale=2, elem_id="eval-upload")
    upload_status = gr.Textbox(show_label=False, interactive=False, visible=False, elem_id="eval-upload-status")
    drop_trained = gr.Checkbox(
        label="去掉模型训练过的题（留出集里有当前模型训练过的题时，不勾选就不评测）", value=False, elem_id="eval-drop-trained"
    )
    run_button = gr.Button("运行评测", variant="primary", elem_id="eval-run")
    summary = gr.HTML(elem_id="eval-summary", css_template=css)
    with gr.Row(equal_height=True):
        category = gr.Dropdown(label="类别", choices=[ALL], value=ALL, elem_id="eval-category")
        verdict = gr.Radio(label="结果", choices=[ALL, PASS, FAIL], value=ALL, elem_id="eval-verdict")
    table = gr.Dataframe(
        headers=TABLE_HEADERS, datatype="str", interactive=False, wrap=True, max_height=420, elem_id="eval-table",
        column_widths=["8%", "12%", "40%", "10%", "14%", "8%", "8%"],
    )
    with gr.Row(equal_height=True):
        previous_page = gr.Button("上一页", size="sm", scale=0, min_width=90, elem_id="eval-previous")
        page = gr.Number(value=1, precision=0, minimum=1, show_label=False, scale=0, min_width=90, elem_id="eval-page")
        next_page = gr.Button("下一页", size="sm", scale=0, min_width=90, elem_id="eval-next")
    page_status = gr.Markdown(elem_id="eval-page-status")  # its own line: squeezed beside the buttons it scrolled on a phone
    detail = gr.HTML("<p>点表格中的一行，查看回答与参考答案、引用原文。</p>", elem_id="eval-detail", css_template=css)
    add_panel = ui_train.add_panel()
    with gr.Row(equal_height=True):
        model = gr.Textbox(value=lambda: ui_train.model_line(assistant), show_label=False, interactive=False, scale=3,
                           elem_id="eval-model")
        retrain_button = gr.Button("重新训练", scale=1, elem_id="eval-retrain")
    retrain_status = gr.Textbox(
        show_label=False, interactive=False, elem_id="eval-retrain-status",
        placeholder="「重新训练」用训练集训练新模型（和 assistant tune 相同），训练完直接换用，不必重启服务",
    )
    with gr.Row():
        csv_file = gr.DownloadButton("下载结果 CSV", interactive=False, elem_id="eval-download-csv")
        html_file = gr.DownloadButton("下载 HTML 报告", interactive=False, elem_id="eval-download-html")

    with gr.Accordion("历史运行与对比", open=False, elem_id="eval-history"):
        with gr.Row(equal_height=True):
            past = gr.Dropdown(label="历史运行（数据目录）", scale=3, elem_id="eval-past")
            open_button = gr.Button("打开", scale=1)
            refresh = gr.Button("刷新列表", scale=1)
        with gr.Row(equal_height=True):
            run_a = gr.Dropdown(label="运行 A（之前）", elem_id="eval-run-a")
            run_b = gr.Dropdown(label="运行 B（之后）", elem_id="eval-run-b")
            compare_button = gr.Button("对比", elem_id="eval-compare")
        # a text box, not gr.Code: its scroller on a phone was a region keyboards cannot reach (axe)
        comparison = gr.Textbox(label="对比结果", interactive=False, lines=12, max_lines=60, elem_id="eval-comparison")
        compare_file = gr.DownloadButton("下载对比页面", interactive=False, elem_id="eval-download-compare")

    ui_train.training_section(assistant, settings)

    with gr.Accordion("👎 反馈 → 评测题", open=False, elem_id="eval-feedback"):
        downvoted = gr.State([])
        feedback_table = gr.Dataframe(
            headers=FEEDBACK_HEADERS, datatype="str", interactive=False, wrap=True, max_height=300, elem_id="feedback-table",
            column_widths=["10%", "12%", "22%", "22%", "12%", "22%"],
        )
        reload_feedback = gr.Button("刷新反馈")
        with gr.Row(equal_height=True):
            draft_id = gr.Textbox(label="id", elem_id="draft-id")
            draft_category = gr.Textbox(label="类别", value="feedback")
            draft_answerable = gr.Checkbox(label="报告中有答案（answerable）", value=True)
        draft_question = gr.Textbox(label="问题", elem_id="draft-question")
        draft_answer = gr.Textbox(label="当时的回答", interactive=False)
        draft_role = gr.Radio(
            label="加入", choices=[(sets.role_name(r), r) for r in sets.ROLES], value=sets.TRAINING, elem_id="draft-role",
            info="训练集：教下一个模型（需要 evidence）；留出集：只用来评测（需要 must_include）",
        )
        draft_reference = gr.Textbox(label="参考答案 reference_answer", elem_id="draft-reference")
        draft_must = gr.Textbox(label="must_include（回答必须包含的字符串，用 | 分隔）", elem_id="draft-must")
        draft_evidence = gr.Textbox(label="evidence（报告原文片段，用 | 分隔）", elem_id="draft-evidence")
        draft_target = gr.Dropdown(
            label="追加到（评测集、训练集或数据目录中的 JSONL 文件）",
            choices=eval_drafts.targets(settings, sets.TRAINING),
            value=eval_drafts.default_target(settings, sets.TRAINING),
            allow_custom_value=True,
            elem_id="draft-target",
        )
        with gr.Row(equal_height=True):
            draft_confirm = gr.Checkbox(label="仍然加入（即使与留出集的题相同）", value=False, elem_id="draft-confirm")
            draft_save = gr.Button("追加", elem_id="draft-save")
        draft_status = gr.Textbox(show_label=False, interactive=False, elem_id="draft-status")

    # ------------------------------------------------------------ showing a run

    def show(run: runs.KeptRun):
        csv_path, html_path = downloads(run.meta, run.folder, exports)
        rows, where, shown_page, matching = table_page(run, ALL, ALL, 1)
        return (
            {"run": run.meta.id, "shown": where},
            report.summary_html(run.summary),
            gr.Dropdown(choices=[ALL, *run.summary.categories], value=ALL),
            ALL,
            rows,
            shown_page,
            page_note(shown_page, matching),
            "",
            gr.Column(visible=False),
            gr.DownloadButton(value=csv_path, interactive=True),
            gr.DownloadButton(value=html_path, interactive=True),
        )

    shown = [current, summary, category, verdict, table, page, page_status, detail, add_panel.group, csv_file, html_file]

    @friendly
    def remember_upload(path: str | None):
        """The file this browser session just uploaded, kept server-side for 运行评测 (no request
        can name a server file for the evaluation to read), and a line saying it is ready: until
        then 运行评测 still runs the chosen set."""
        if path is None:
            return None, gr.Textbox(visible=False)
        kept = uploaded_file(path, settings.max_request_bytes)
        return str(kept), gr.Textbox(value=f"已收到 {kept.name}：「运行评测」将评测这个文件", visible=True)

    @friendly
    def run_set(chosen: str | None, uploaded: str | None, without_trained: bool, progress=gr.Progress()):
        progress = counted(progress)
        if uploaded is None and chosen is not None and chosen not in [path for _, path in eval_sets(settings)]:
            raise UserError("没有这个评测集，请从列表中选择")
        source = uploaded or chosen
        if not source:
            raise UserError("先选择一个评测集，或上传 JSONL / CSV 文件")
        # an upload is named by its own name: its path is Gradio's temporary folder's, not the user's
        shown_as = Path(uploaded).name if uploaded else None
        loaded = load_eval_set(Path(source), settings.max_question_chars, shown_as=shown_as)
        planned = keep.plan_run(assistant, Path(source), loaded, Path(source).name, shown_as, without_trained)
        if planned.loaded.errors:
            gr.Warning(f"跳过了 {len(planned.loaded.errors)} 行，其余照常评测。第一行的问题：{planned.loaded.errors[0]}")
        folder = keep.keep_run(settings, planned, progress)
        return show(runs.KeptRun(folder))

    @friendly
    def open_run(run_id: str | None):
        if not run_id:
            raise UserError("先在列表中选择一次运行")
        return show(runs.load(settings, run_id))

    def _opened(state: dict | None) -> runs.KeptRun | None:
        return None if state is None else runs.load(settings, state["run"])

    @friendly
    def turn_page(state: dict | None, chosen_category: str, chosen_verdict: str, wanted: float | None):
        """The table's page `wanted` under the filters, kept within the pages there are."""
        rows, where, shown_page, matching = table_page(_opened(state), chosen_category, chosen_verdict, wanted or 1)
        return rows, None if state is None else {**state, "shown": where}, shown_page, page_note(shown_page, matching)

    def refilter(state: dict | None, chosen_category: str, chosen_verdict: str):
        return turn_page(state, chosen_category, chosen_verdict, 1)

    def previous(state: dict | None, chosen_category: str, chosen_verdict: str, at: float | None):
        return turn_page(state, chosen_category, chosen_verdict, int(at or 1) - 1)

    def following(state: dict | None, chosen_category: str, chosen_verdict: str, at: float | None):
        return turn_page(state, chosen_category, chosen_verdict, int(at or 1) + 1)

    @friendly
    def select_row(state: dict | None, event: gr.SelectData):
        where = (state or {}).get("shown", {}).get(str(event.row_value[0]) if event.row_value else None)
        if where is None:
            return gr.skip()
        at, number = where
        run = _opened(state)
        item = run.item(at)
        return (report.item_html(item, number), {"run": run.meta.id, "at": at},
                *add_panel.fill(settings, item, run.meta.role))

    @friendly
    def add_to_training(chosen: dict | None, question: str, evidence: str | None, confirmed: bool):
        if chosen is None:
            raise UserError("先点表格中的一行")
        item = runs.load(settings, chosen["run"]).item(chosen["at"])
        return ui_train.add_scored(settings, item, question, evidence, confirmed), False  # a confirmation is for one item

    @friendly
    def retrain(progress=gr.Progress()):
        done = ui_train.retrain(assistant, settings, ui_train.stepped(progress))
        return done, ui_train.model_line(assistant)

    def refresh_runs():
        choices = run_choices(runs.list_runs(settings))
        return gr.Dropdown(choices=choices), gr.Dropdown(choices=choices), gr.Dropdown(choices=choices)

    def after_run(state: dict | None):
        """The run lists refreshed, and A and B set to this run and the one before it on its set."""
        metas = runs.list_runs(settings)  # read once for both
        choices = run_choices(metas)
        a, b = compared_pair(metas, state["run"]) if state else (None, None)
        return gr.Dropdown(choices=choices), gr.Dropdown(choices=choices, value=a), gr.Dropdown(choices=choices, value=b)

    @friendly
    def compare(a: str | None, b: str | None):
        if not a or not b:
            raise UserError("选择要对比的两次运行 A 和 B")
        result = compare_runs(runs.load(settings, a), runs.load(settings, b))
        if result.mismatch:
            gr.Warning(result.mismatch)
        written = exports / f"compare-{a}-{b}.html"
        written.write_text(comparison_html(result), encoding="utf-8")
        return comparison_text(result), gr.DownloadButton(value=str(written), interactive=True)

    uploaded = gr.State(None)  # per browser session, never sent by the client
    upload.upload(remember_upload, [upload], [uploaded, upload_status], api_visibility="private")
    upload.clear(lambda: (None, gr.Textbox(visible=False)), None, [uploaded, upload_status], api_visibility="private")
    run_button.click(run_set, [eval_set, uploaded, drop_trained], shown, show_progress_on=[summary]).then(
        after_run, [current], [past, run_a, run_b]
    )
    open_button.click(open_run, [past], shown)
    paged = [table, current, page, page_status]
    category.input(refilter, [current, category, verdict], paged)
    verdict.input(refilter, [current, category, verdict], paged)
    previous_page.click(previous, [current, category, verdict, page], paged)
    next_page.click(following, [current, category, verdict, page], paged)
    page.submit(turn_page, [current, category, verdict, page], paged)
    table.select(select_row, [current], [detail, picked, *add_panel.filled])
    add_panel.add.click(add_to_training, [picked, add_panel.question, add_panel.evidence, add_panel.confirm],
                        [add_panel.status, add_panel.confirm])
    retrain_button.click(retrain, None, [retrain_status, model], show_progress_on=[retrain_status])
    refresh.click(refresh_runs, None, [past, run_a, run_b])
    gr.on(None, refresh_runs, None, [past, run_a, run_b])  # on every page load
    compare_button.click(compare, [run_a, run_b], [comparison, compare_file])

    # ------------------------------------------------------------ feedback → draft items

    store = FeedbackStore(settings.data_dir)

    def load_feedback():
        items = store.list_feedback("down")[::-1]  # newest first
        done = eval_drafts.drafted(settings)
        rows = [
            [eval_drafts.draft_id(f), f.created_at[:16].replace("T", " "), f.question, f.comment,
             f"✓ 已加入 {done[eval_drafts.draft_id(f)]}" if eval_drafts.draft_id(f) in done else "",
             f.answer[:ANSWER_PREVIEW_CHARS] + ("…" if len(f.answer) > ANSWER_PREVIEW_CHARS else "")]
            for f in items
        ]
        return items, rows

    def pick_feedback(items: list[FeedbackItem], event: gr.SelectData):
        picked = [f for f in items if event.row_value and eval_drafts.draft_id(f) == event.row_value[0]]
        if not picked:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        id_ = eval_drafts.draft_id(picked[0])
        where = eval_drafts.drafted(settings).get(id_)
        note = f"注意：这条反馈已经转成评测题（{id_}，在 {where} 中），不必重复添加。" if where else ""
        return id_, picked[0].question, picked[0].answer, note

    def targets_for(role: str):
        return gr.Dropdown(choices=eval_drafts.targets(settings, role), value=eval_drafts.default_target(settings, role))

    @friendly
    def save_draft(id_, question, answerable, reference, must, evidence, category_, role, target, confirmed):
        item = eval_drafts.build_item(id_, question, answerable, reference, must, evidence, category_, role)
        path = eval_drafts.append_items(settings, target, [item], role, confirmed)
        return f"已追加 {item.id} 到{sets.role_name(role)} {path}", False  # a confirmation is for one item

    reload_feedback.click(load_feedback, None, [downvoted, feedback_table])
    gr.on(None, load_feedback, None, [downvoted, feedback_table])
    feedback_table.select(pick_feedback, [downvoted], [draft_id, draft_question, draft_answer, draft_status])
    draft_role.input(targets_for, [draft_role], [draft_target])
    draft_save.click(
        save_draft,
        [draft_id, draft_question, draft_answerable, draft_reference, draft_must, draft_evidence, draft_category,
         draft_role, draft_target, draft_confirm],
        [draft_status, draft_confirm],
    ).success(load_feedback, None, [downvoted, feedback_table])  # the saved one is marked at once
