"""The chat UI (Gradio Blocks): questions in, streamed answers with numbered citations out.

Every answer comes from `Assistant.ask`; the chat only renders it. All text from a user or
from the report is HTML-escaped (assistant.app.ui_render) before it reaches the page, and the chatbot renders HTML
(not Markdown) through Gradio's sanitizer, so a question like `<img onerror=…>` stays text.
Conversation state (answers, feedback ids) lives server-side in `gr.State`, never in the page;
past conversations are kept by `ConversationStore`, listed beside the chat.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import gradio as gr

from assistant.answer.chain import Assistant
from assistant.answer_models import Answer
from assistant.app import ui_source
from assistant.app.conversation_store import ConversationStore, Gone
from assistant.app.export import write_exports
from assistant.app.suggest import FollowUps
from assistant.app.ui_chat import BROWSER_ID_KEY, BROWSER_ID_SECRET, Conversation, answer_events, owner_of
from assistant.app.ui_eval import eval_tab
from assistant.app.ui_page import COUNT_JS, FOLD_LIST_JS, SHOW_COMMENT_JS, TOGGLE_LIST_JS
from assistant.app.ui_render import CHINA, escape, list_label, render_partial, status_line
from assistant.errors import UserError
from assistant.evaluation.feedback import FeedbackStore
from assistant.settings import Settings

log = logging.getLogger(__name__)

TITLE = "浙江省产业集群调研报告 · 问答助手"
EXAMPLES = [
    "杭州有多少个产业集群？",
    "我省产业集群存在哪些主要问题？",
    "产业集群带来了哪些生态问题？",
    "怎样发展新兴产业集群？",
]
NO_CONVERSATIONS = "还没有保存的对话。每个回答完成后，对话会自动保存在这里。"


# what a tab's page runs once it has loaded in a browser: (fn, inputs, outputs)
PageLoad = tuple[Callable, list, list]


def build_chat_tab(assistant: Assistant, settings: Settings) -> PageLoad:
    store = FeedbackStore(settings.data_dir)
    kept = ConversationStore(settings.data_dir)
    limit = settings.max_question_chars
    follow_ups = FollowUps(assistant, settings.follow_ups)
    export_root = Path(tempfile.mkdtemp(prefix="assistant-chat-"))  # one folder per conversation inside
    conversation = gr.State(Conversation())
    browser_id = gr.BrowserState(None, storage_key=BROWSER_ID_KEY, secret=BROWSER_ID_SECRET)
    # 历史对话 beside the examples and the chat on a laptop (the rows under the chat keep the whole
    # width, so the question box stays on the first screen); on a phone a folded bar above them
    with gr.Row(elem_id="chat-layout"):
        with gr.Column(scale=1, min_width=230, elem_id="conversations"):
            toggle = gr.Button("历史对话", size="sm", elem_id="conv-toggle")
            gr.HTML('<h2>历史对话</h2>', padding=False, min_height=0, elem_classes="conv-heading")
            listed = gr.Radio(label="历史对话", show_label=False, choices=[], container=False, elem_id="conv-list")
            note = gr.HTML(padding=False, min_height=0, elem_classes="conv-note-box")
            with gr.Row(visible=False, elem_id="conv-actions") as actions:
                rename = gr.Button("重命名", size="sm", scale=0, min_width=0, elem_id="conv-rename-open")
                delete = gr.Button("删除", size="sm", scale=0, min_width=0, elem_id="conv-delete")
            with gr.Row(visible=False, elem_id="conv-rename") as rename_row:
                new_name = gr.Textbox(label="新名称", show_label=False, placeholder="新名称", container=False,
                                      max_lines=1, elem_id="conv-new-name")
                save_name = gr.Button("保存名称", size="sm", scale=0, min_width=0, variant="primary", elem_id="conv-rename-save")
                cancel_rename = gr.Button("取消", size="sm", scale=0, min_width=0, elem_id="conv-rename-cancel")
            with gr.Row(visible=False, elem_id="conv-confirm") as confirm_row:
                confirm_text = gr.HTML(padding=False, min_height=0)
                confirm = gr.Button("确定删除", size="sm", scale=0, min_width=0, variant="stop", elem_id="conv-delete-confirm")
                cancel_delete = gr.Button("取消", size="sm", scale=0, min_width=0, elem_id="conv-delete-cancel")
        with gr.Column(scale=4, min_width=300):
            # above the chat, so they are above the fold on a phone (Gradio's examples inside the empty
            # chat are a role=list of buttons with English names, which axe-core rejects)
            with gr.Row(elem_id="examples", equal_height=True):
                gr.HTML('<span class="examples-label">可以这样问：</span>', padding=False, min_height=0)
                examples = [gr.Button(q, size="sm", scale=0, min_width=0, elem_classes="example") for q in EXAMPLES]
            chatbot = gr.Chatbot(
                label="对话",
                show_label=False,  # the floating label covered the first message
                elem_id="chat",
                height="50vh",  # with the examples above, the question box and its count stay on a 900 px screen
                render_markdown=False,
                sanitize_html=True,
                latex_delimiters=[],
                buttons=[],  # Gradio's copy button copies the message's HTML: each answer has its own
                placeholder="用平常的话提问，回答会附上报告原文出处。",
            )
    # under the latest answer, one row: questions about the sections around the one it cites,
    # and the whole conversation as files (one row keeps the question box on a laptop's first screen)
    with gr.Row(visible=False, elem_id="follow-ups", equal_height=True) as follow_row:
        follow_label = gr.HTML('<span class="examples-label">接着问：</span>', padding=False, min_height=0)
        follow_buttons = [gr.Button("", size="sm", scale=0, min_width=0, elem_classes="follow-up")
                          for _ in range(settings.follow_ups)]
        export_md = gr.DownloadButton("导出 Markdown", size="sm", scale=0, min_width=0, interactive=False, elem_id="export-md")
        export_docx = gr.DownloadButton("导出 Word", size="sm", scale=0, min_width=0, interactive=False, elem_id="export-docx")
    # the count sits right above the box, so a long paste never pushes it out of sight
    gr.HTML(f'<div id="question-count" data-limit="{limit}" aria-live="polite"></div>', padding=False, min_height=0)
    with gr.Row(equal_height=True):
        question = gr.Textbox(
            label="问题",
            placeholder="请输入问题，按回车发送，例如：绍兴有多少个产业集群？",
            show_label=False,
            scale=8,
            max_lines=4,  # a long paste scrolls inside the box instead of pushing its count off-screen
            elem_id="question",
            autofocus=True,
        )  # no max_length: the browser would cut a long paste silently; the count above warns
        send = gr.Button("发送", variant="primary", scale=1, min_width=80)
        new_chat = gr.Button("新对话", scale=1, min_width=80, elem_id="new-chat")
    with gr.Row(visible=False, elem_id="feedback-row") as feedback_row:
        feedback_note = gr.Markdown()
        comment = gr.Textbox(label="补充说明", placeholder="补充说明（可选）：哪里不对，或者缺了什么", show_label=False,
                             scale=4, max_length=2000, elem_id="feedback-comment")
        save_comment = gr.Button("提交说明", scale=1, min_width=100, elem_id="feedback-save")

    def respond(text: str, state: Conversation):
        if len(text or "") > limit:  # never cut (the question is often at the end): the red count
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()  # under the box already says it is not sent
            return
        text = (text or "").strip()
        if not text:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        epoch, history = state.epoch, state.history()
        shown = state.messages() + [{"role": "user", "content": escape(text)}]
        state.streaming = True
        # the last answer's follow-ups go (they are about an answer no longer the latest), and the
        # export buttons with them until the files include this answer
        yield "", shown + [{"role": "assistant", "content": render_partial("正在查找……")}], state, gr.Row(visible=False)
        received = ""
        try:
            for event in answer_events(assistant, text, history):
                if state.epoch != epoch:  # 新对话 or 清空 meanwhile: this answer has no conversation
                    return
                # the box was cleared once above; what the user types meanwhile is theirs
                if isinstance(event, Answer):
                    state.answers.append(event)
                    keep_turn(state, event)
                    yield gr.skip(), state.messages(), state, gr.skip()
                    return
                received += event
                yield gr.skip(), shown + [{"role": "assistant", "content": render_partial(received)}], state, gr.skip()
        except UserError as exc:
            yield text, shown + [{"role": "assistant", "content": render_partial(f"无法回答：{exc}")}], state, gr.skip()
        except Exception:  # a bug must not leave the chat hanging; the log has the details
            log.exception("answering %r failed", text)
            yield text, shown + [{"role": "assistant", "content": render_partial("出错了，请稍后再试。")}], state, gr.skip()
        finally:
            state.streaming = False

    def rate(state: Conversation, liked: gr.LikeData):
        turn = liked.index // 2 if isinstance(liked.index, int) else liked.index[0] // 2
        if liked.liked not in (True, False) or turn >= len(state.answers):
            return gr.skip(), gr.skip(), gr.skip(), state
        rating = "up" if liked.liked else "down"
        try:
            state.feedback[turn] = store.rate(state.answers[turn], rating, state.feedback.get(turn))
        except UserError as exc:
            raise gr.Error(f"反馈没有保存：{exc}")
        state.commenting = turn
        note = f"已记录第 {turn + 1} 个回答的{'👍' if rating == 'up' else '👎'}，谢谢！"
        return gr.Row(visible=True), note, "", state

    def add_comment(text: str, state: Conversation):
        if state.commenting is None or not (text or "").strip():
            return gr.skip(), gr.skip()
        try:
            store.comment(state.feedback[state.commenting], text)
        except UserError as exc:
            raise gr.Error(f"说明没有保存：{exc}")
        return "", f"第 {state.commenting + 1} 个回答的说明已保存，谢谢！"

    def after_answer(state: Conversation):
        """The latest answer's follow-ups, and the whole conversation as Markdown and Word."""
        if not state.answers:
            return nothing_to_offer()
        latest = state.answers[-1]
        suggested = follow_ups.for_answer(latest, [a.question for a in state.answers])
        if state.exports is None:
            state.exports = export_root / uuid.uuid4().hex
        markdown, docx = write_exports(list(state.answers), state.exports, datetime.now(CHINA))
        buttons = [gr.Button(s.question, visible=True) for s in suggested]
        buttons += [gr.Button(visible=False)] * (len(follow_buttons) - len(buttons))
        return (gr.Row(visible=True), gr.HTML(visible=bool(suggested)), *buttons,
                gr.DownloadButton(value=str(markdown), interactive=True), gr.DownloadButton(value=str(docx), interactive=True))

    def nothing_to_offer():
        return (gr.Row(visible=False), gr.HTML(visible=False), *[gr.Button(visible=False)] * len(follow_buttons),
                gr.DownloadButton(value=None, interactive=False), gr.DownloadButton(value=None, interactive=False))

    def reset(state: Conversation):
        state.reset()
        state.settle()
        return [], "", state, gr.Row(visible=False), *nothing_to_offer(), *panel(state)

    # ------------------------------------------------ 历史对话: kept, reopened, renamed, deleted

    def keep_turn(state: Conversation, answer: Answer) -> None:
        """Store a finished answer as its conversation's next turn; a failure is said, and the
        answer is still shown."""
        if state.owner is None:  # the page has not loaded its list yet: there is no owner to keep it for
            return
        try:
            state.id = kept.append(state.owner, state.id, answer)
        except UserError as exc:
            gr.Warning(str(exc))

    def panel(state: Conversation, message: str = "", renaming: str | None = None, deleting: str | None = None):
        """The list with the open conversation chosen, its actions, a one-line message, and the
        rename form (holding `renaming`) or the delete question (about `deleting`) when asked for."""
        saved = kept.conversations(state.owner) if state.owner else []
        now = datetime.now(CHINA)
        message = message or ("" if saved else NO_CONVERSATIONS)
        sure = f"<div>{escape(f'删除「{deleting}」？删除后无法恢复。')}</div>" if deleting else ""
        return (gr.Radio(choices=[(list_label(c, now), c.id) for c in saved], value=state.id),
                gr.Row(visible=state.id is not None), _note(message),
                gr.Row(visible=renaming is not None), gr.Textbox(value=renaming or ""),
                gr.Row(visible=deleting is not None), sure)

    def start(stored_id, state: Conversation, request: gr.Request):
        state.owner, stored_id = owner_of(request.username, stored_id)
        return stored_id, state, *panel(state)

    def reopen(chosen: str | None, state: Conversation):
        """The chosen conversation in the chat, as it was answered; the next question continues it."""
        try:
            saved = kept.get(state.owner, chosen)
        except Gone as exc:  # deleted in another window: said, and the list as it is now
            return gr.skip(), state, gr.skip(), *nothing_to_offer(), *panel(state, str(exc))
        state.reset()
        state.settle()
        state.id = saved.id
        state.answers.extend(saved.answers)
        return state.messages(), state, gr.Row(visible=False), *nothing_to_offer(), *panel(state)

    def gone(state: Conversation, exc: Gone):
        """The open conversation was deleted elsewhere: its turns stay on screen, and the next
        answer begins a new conversation in the list."""
        state.id = None
        return panel(state, str(exc))

    def ask_new_name(state: Conversation):
        try:
            return panel(state, renaming=kept.title(state.owner, state.id))
        except Gone as exc:
            return gone(state, exc)

    def save_new_name(title: str, state: Conversation):
        try:
            return panel(state, f"已重命名为「{kept.rename(state.owner, state.id, title)}」。")
        except Gone as exc:
            return gone(state, exc)
        except UserError as exc:  # empty or too long: said in one line, the form stays open with it
            return panel(state, str(exc), renaming=title)

    def ask_to_delete(state: Conversation):
        try:
            return panel(state, deleting=kept.title(state.owner, state.id))
        except Gone as exc:
            return gone(state, exc)

    def delete_open(state: Conversation):
        """Delete the open conversation; a fresh one takes its place."""
        try:
            message = f"已删除「{kept.delete(state.owner, state.id)}」。"
        except Gone as exc:  # deleted meanwhile (in another window): said, and the list refreshed
            message = str(exc)
        state.reset()
        state.settle()
        return [], state, gr.Row(visible=False), *nothing_to_offer(), *panel(state, message)

    asking = [question, conversation]
    answering = [question, chatbot, conversation, follow_row]
    offering = [follow_row, follow_label, *follow_buttons, export_md, export_docx]
    # a question sent while the last answer is still finishing waits its turn instead of being dropped
    asked = [
        question.submit(respond, asking, answering, trigger_mode="always_last"),
        send.click(respond, asking, answering, trigger_mode="always_last"),
        # an example's or a follow-up's label is its question
        *(button.click(respond, [button, conversation], answering, trigger_mode="always_last")
          for button in [*examples, *follow_buttons]),
    ]
    listing = [listed, actions, note, rename_row, new_name, confirm_row, confirm_text]
    # no pending fade on what updates beside the chat: at 0.2 opacity its text fails contrast meanwhile
    quiet = {"show_progress": "hidden", "concurrency_limit": None}
    for event in asked:  # the follow-ups; and a new conversation is listed (and chosen) with its first answer
        event.then(after_answer, [conversation], offering, show_progress="hidden")
        event.then(panel, [conversation], listing, **quiet)
    question.change(None, [question], None, js=COUNT_JS)
    chatbot.like(rate, [conversation], [feedback_row, feedback_note, comment, conversation], concurrency_limit=None).then(
        None, js=SHOW_COMMENT_JS
    )
    save_comment.click(add_comment, [comment, conversation], [comment, feedback_note], concurrency_limit=None)
    comment.submit(add_comment, [comment, conversation], [comment, feedback_note], concurrency_limit=None)
    # 新对话 and the chat's own 清空 (trash) both forget the turns, also while an answer streams
    resetting = [chatbot, question, conversation, feedback_row, *offering, *listing]
    new_chat.click(reset, [conversation], resetting, cancels=asked, concurrency_limit=None)
    chatbot.clear(reset, [conversation], resetting, cancels=asked, concurrency_limit=None)

    replacing = [chatbot, conversation, feedback_row, *offering, *listing]  # another conversation in the chat
    listed.input(reopen, [listed, conversation], replacing, cancels=asked, js=FOLD_LIST_JS, **quiet).then(
        after_answer, [conversation], offering, show_progress="hidden")
    toggle.click(None, js=TOGGLE_LIST_JS)
    rename.click(ask_new_name, [conversation], listing, **quiet)
    for saving in (save_name.click, new_name.submit):
        saving(save_new_name, [new_name, conversation], listing, **quiet)
    delete.click(ask_to_delete, [conversation], listing, **quiet)
    confirm.click(delete_open, [conversation], replacing, cancels=asked, **quiet)
    for cancel in (cancel_rename, cancel_delete):
        cancel.click(panel, [conversation], listing, **quiet)
    return start, [browser_id, conversation], [browser_id, conversation, *listing]


def _note(message: str) -> str:
    return f'<div class="conv-note" role="status">{escape(message)}</div>' if message else ""


# The app's tabs, in order: each is (label, builder(assistant, settings)); a new tab is one entry.
# A builder may return what its page runs once loaded in a browser.
TABS: list[tuple[str, Callable[[Assistant, Settings], PageLoad | None]]] = [
    ("问答", build_chat_tab),
    ("原文", ui_source.source_tab),
    ("评测", eval_tab),
]


def build_ui(assistant: Assistant, settings: Settings) -> gr.Blocks:
    with gr.Blocks(title=TITLE, analytics_enabled=False) as ui:
        with gr.Column(elem_classes="app-header"):
            gr.HTML(f'<h1 class="app-title">{escape(TITLE)}</h1>', padding=False)
            gr.HTML(f'<div class="status-line" id="status-line">{status_line(assistant)}</div>', padding=False)
        with gr.Tabs():
            for label, build in TABS:
                with gr.Tab(label):
                    loaded = build(assistant, settings)
                if loaded:
                    ui.load(*loaded, show_progress="hidden")
    # answers share the CPU: at most `concurrency` at once, a bounded line behind them
    ui.queue(default_concurrency_limit=settings.concurrency, max_size=settings.concurrency * 16)
    return ui
