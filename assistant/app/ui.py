"""The chat UI (Gradio Blocks): questions in, streamed answers with numbered citations out.

Every answer comes from `Assistant.ask`; this module only renders it. All text from a user or
from the report is HTML-escaped here before it reaches the page, and the chatbot renders HTML
(not Markdown) through Gradio's sanitizer, so a question like `<img onerror=…>` stays text.
Conversation state (answers, feedback ids) lives server-side in `gr.State`, never in the page;
past conversations are kept by `ConversationStore`, listed beside the chat.
"""

from __future__ import annotations

import html
import logging
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import gradio as gr

from assistant.answer_models import Answer, Citation
from assistant.answer.chain import Assistant
from assistant.app.conversation_store import ConversationStore, ConversationSummary, Gone
from assistant.errors import UserError
from assistant.app.export import write_exports
from assistant.evaluation.feedback import FeedbackStore
from assistant.answer.reply import reply_text
from assistant.settings import Settings
from assistant.app.suggest import FollowUps
from assistant.app.ui_eval import eval_tab
from assistant.app import ui_source

log = logging.getLogger(__name__)

TITLE = "浙江省产业集群调研报告 · 问答助手"
EXAMPLES = [
    "杭州有多少个产业集群？",
    "我省产业集群存在哪些主要问题？",
    "产业集群带来了哪些生态问题？",
    "怎样发展新兴产业集群？",
]
# a text piece longer than STREAM_SPLIT_CHARS (a model's deltas are shorter) is shown in
# STREAM_PIECES parts, STREAM_PAUSE_S apart: a visible stream that costs under ~1 s
STREAM_SPLIT_CHARS = 48
STREAM_PIECES = 24
STREAM_PAUSE_S = 0.03
RESET_WAIT_S = 1.0  # how long 新对话 waits for a streaming answer to stop (a model's delta may take longer)
MODES = {"extractive": "原文摘录", "llm": "大模型生成"}
CHINA = timezone(timedelta(hours=8), "北京时间")
# The page is Chinese whatever the browser's language: Gradio takes its locale, and <html lang>,
# from the browser (api.PageLanguage pins it), and its zh-CN labels lack these.
PAGE_LANG = "zh-CN"
GRADIO_LABELS = {"chatbot.copy_message": "复制", "chatbot.copied_message": "已复制", "chatbot.clear": "清空对话"}
# Without a login, a browser's conversations are found by a random id it keeps in localStorage.
# Gradio encrypts a BrowserState with a key it sends to the page in its config, so the key hides
# nothing; it is fixed so that an id stored before a restart still reads after it (Gradio's
# default, a new random key each start, made every restart lose every browser's conversations).
BROWSER_ID_KEY = BROWSER_ID_SECRET = "assistant-browser-id"
_BROWSER_ID = re.compile(r"[0-9a-f]{32}")
NO_CONVERSATIONS = "还没有保存的对话。每个回答完成后，对话会自动保存在这里。"

CSS = """
.answer-text, .passage { white-space: pre-wrap; }
.citations { margin-top: .7em; padding-top: .4em; border-top: 1px solid var(--border-color-primary); font-size: .92em; }
.citations-title { color: var(--body-text-color-subdued); margin-bottom: .2em; }
.citation { margin: .25em 0; }
.citation summary { cursor: pointer; }
.citation .source { color: var(--body-text-color-subdued); margin-left: .5em; font-size: .9em; }
.citation .passage { margin: .3em 0 .5em; padding: .4em .7em; background: var(--background-fill-secondary);
  border-left: 3px solid var(--color-accent); line-height: 1.7; }
.citation mark { background: #fde68a; color: inherit; padding: 0 .1em; }
a.cite-ref { font-weight: 600; text-decoration: none; }
.extractive { margin-top: .5em; white-space: pre-wrap; }
.warnings { margin-top: .5em; padding: .35em .7em; border-left: 3px solid #d97706; background: #fef3c7;
  color: #78350f; font-size: .92em; }
.copy-row { margin-top: .5em; }
.copy-row .plain-text { display: none; }
button.copy-answer { font-size: .85em; padding: .15em .6em; border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-sm); background: var(--background-fill-primary); color: var(--body-text-color); cursor: pointer; }
:is(#examples, #follow-ups) { gap: .4em; flex-wrap: wrap; align-items: center; }
:is(#examples, #follow-ups) > * { flex: 0 0 auto !important; width: auto !important; }
#export-md { margin-left: auto; }
.examples-label { font-size: .9em; color: var(--body-text-color-subdued); }
h1.app-title { font-size: 1.5rem; font-weight: 600; margin: .2em 0 .1em; }
.status-line { color: var(--body-text-color-subdued); font-size: .9em; }
#question-count { font-size: .85em; color: var(--body-text-color-subdued); min-height: 1.4em; text-align: right; }
#question-count.over { color: var(--error-text-color); font-weight: 600; }
/* 评测 tables: an id never breaks inside (at 8% of a phone's width it wrapped one character a line) */
:is(#eval-table, #feedback-table) .first-column {
  width: 7.5em !important; min-width: 7.5em !important; max-width: none !important; flex: 0 0 7.5em !important; }
:is(#eval-table, #feedback-table) .first-column span { white-space: nowrap; }
/* a comparison's columns line up; on a phone the text box scrolls sideways (a textarea takes the keyboard) */
#eval-comparison textarea { font-family: var(--font-mono); white-space: pre; overflow-x: auto; }
.train-title { font-weight: 600; margin: .2em .4em; }
.app-header { padding: 0 !important; gap: .2em !important; }
/* 历史对话: a column beside the chat; on a phone a folded bar above it (#conv-toggle opens it) */
.conv-heading h2 { font-size: 1rem; font-weight: 600; margin: 0; }
#conv-toggle { display: none; }
#conv-toggle::after { content: "▾"; margin-left: .3em; }
#conv-toggle[aria-expanded="true"]::after { content: "▴"; }
.conv-note-box:not(:has(.conv-note)) { display: none !important; }
#conv-list { max-height: calc(50vh + 4em); overflow-y: auto; }
#conv-list .wrap { flex-direction: column; gap: .3em; }
#conv-list label { width: 100%; white-space: pre-line; line-height: 1.35; overflow-wrap: anywhere; }
/* the open one keeps its dot under the pointer (the theme's hover paints it white) */
#conv-list input:checked { background-color: var(--checkbox-background-color-selected) !important;
  border-color: var(--checkbox-border-color-selected) !important; }
.conv-note { font-size: .9em; color: var(--body-text-color-subdued); }
#conv-actions, #conv-rename, #conv-confirm { gap: .4em; flex-wrap: wrap; align-items: center; }
:is(#conv-actions, #conv-rename, #conv-confirm) > button { flex: 0 0 auto !important; width: auto !important; }
@media (max-width: 640px) {
  h1.app-title { font-size: 1.1rem; margin: 0; }
  .status-line { font-size: .75rem; line-height: 1.35; }
  #chat { height: 42vh !important; }
  .conv-heading { display: none !important; }
  /* at the right end of the tab bar's line, where a phone has room, not on a line of its own */
  #conv-toggle { display: flex; align-self: flex-end; width: auto; margin-top: -49px; position: relative; z-index: 1; }
  #chat-layout { row-gap: 0 !important; }
  #conversations[data-open] { padding-bottom: var(--layout-gap); }
  #conversations:not([data-open]) > :not(#conv-toggle) { display: none !important; }
  #conv-list { max-height: 45vh; }
}
"""

# [n] in an answer opens and scrolls to its passage: one click, no matter how old the answer is.
# 复制回答 copies the answer as plain text (reply.reply_text, kept hidden in the message), not its HTML.
HEAD = """<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.cite-ref");
  if (!link) return;
  const target = document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  event.preventDefault();
  target.open = true;
  target.scrollIntoView({block: "nearest", behavior: "smooth"});
});
document.addEventListener("click", async (event) => {
  const button = event.target.closest && event.target.closest("button.copy-answer");
  if (!button) return;
  const text = button.parentElement.querySelector(".plain-text").textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (error) {  // no clipboard API over plain http on another machine: the old way
    const scratch = document.createElement("textarea");
    scratch.value = text;
    document.body.appendChild(scratch);
    scratch.select();
    document.execCommand("copy");
    scratch.remove();
  }
  button.textContent = "✓ 已复制";
  setTimeout(() => { button.textContent = "复制回答"; }, 2000);
});
</script>"""

# the question box's live count, run in the browser on every change (typing, pasting, clearing)
COUNT_JS = """(text) => {
  const out = document.getElementById("question-count");
  if (!out) return;
  const limit = Number(out.dataset.limit), used = [...(text || "")].length;
  const over = used > limit;
  out.classList.toggle("over", over);
  out.textContent = over ? `已输入 ${used} 字，超出上限 ${used - limit} 字：请删减后再发送，否则不会发送。`
                         : (used ? `${used} / ${limit} 字` : "");
}"""

# after 👍/👎 the comment box opens below the question box: bring it into view (off-screen on a phone)
SHOW_COMMENT_JS = """() => setTimeout(() => {
  const box = document.querySelector("#feedback-comment textarea");
  if (box) { box.scrollIntoView({block: "center"}); box.focus({preventScroll: true}); }
}, 50)"""

# on a phone, 历史对话 opens and folds the list (data-open, an attribute Gradio never re-renders);
# choosing a conversation folds it again, so the chat is what shows (run by the event that opens
# it: a second, script-only listener on the same click was now and then not run)
TOGGLE_LIST_JS = """() => {
  const open = document.getElementById("conversations").toggleAttribute("data-open");
  document.getElementById("conv-toggle").setAttribute("aria-expanded", String(open));
}"""
FOLD_LIST_JS = """(...inputs) => {
  document.getElementById("conversations").removeAttribute("data-open");
  document.getElementById("conv-toggle").setAttribute("aria-expanded", "false");
  return inputs;
}"""

_CITE = re.compile(r"\[(\d+)\]")
Event = str | Answer


def page_options() -> dict:
    """What Gradio 6 takes when the app is mounted rather than in Blocks: theme, CSS, script.

    System fonts only (the default theme fetches Google Fonts, which these machines cannot reach).
    Colours darkened to WCAG AA (4.5:1): Gradio's subdued grey and its orange buttons and tab
    are 1.8–2.8:1 on white.
    """
    fonts = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    theme = gr.themes.Default(font=fonts, font_mono=["Noto Sans Mono CJK SC", "monospace"]).set(
        color_accent="*primary_700",  # the selected tab's text
        body_text_color_subdued="*neutral_600",
        body_text_color_subdued_dark="*neutral_300",
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover_dark="*primary_800",
        button_primary_text_color="white",
        input_placeholder_color="*neutral_500",
    )
    return {"theme": theme, "css": CSS + ui_source.CSS, "head": HEAD + ui_source.SOURCE_JS, "i18n": gr.I18n(**{PAGE_LANG: GRADIO_LABELS})}


# ---------------------------------------------------------------- rendering (pure functions)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def highlight(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` escaped, with the quoted spans wrapped in <mark>; bad or overlapping spans are tolerated."""
    clipped = sorted((max(0, a), min(len(text), b)) for a, b in spans if min(len(text), b) > max(0, a))
    out, at = [], 0
    for start, end in clipped:
        start = max(start, at)
        if end <= start:
            continue
        out += [_e(text[at:start]), f"<mark>{_e(text[start:end])}</mark>"]
        at = end
    out.append(_e(text[at:]))
    return "".join(out)


def _anchor(turn: int, n: int) -> str:
    return f"cite-{turn}-{n}"


def _link_citations(text: str, turn: int, numbers: set[int]) -> str:
    def link(match: re.Match) -> str:
        n = int(match.group(1))
        if n not in numbers:
            return match.group(0)
        return f'<a class="cite-ref" href="#{_anchor(turn, n)}">[{n}]</a>'

    return _CITE.sub(link, _e(text))


def _citation(turn: int, c: Citation) -> str:
    where = _e(c.section or c.title or c.source)
    return (
        f'<details class="citation" id="{_anchor(turn, c.n)}">'
        f'<summary>[{c.n}] {where}<span class="source">{_e(c.source)}</span></summary>'
        f'<div class="passage">{highlight(c.text, c.highlights)}</div>{_open_source(c)}</details>'
    )


def _open_source(c: Citation) -> str:
    """「在原文中查看」: the 原文 tab at this passage, its quoted spans (in the link, `~start-end`) marked."""
    spans = "".join(f"~{start}-{end}" for start, end in sorted(c.highlights))
    return f'<a class="open-source" href="#{ui_source.passage_anchor(c.chunk_id)}{spans}">在原文中查看</a>'


def render_answer(answer: Answer, turn: int) -> str:
    """An answer as HTML: text with [n] linked to its passage, then every citation."""
    parts = [f'<div class="answer-text">{_link_citations(answer.answer, turn, {c.n for c in answer.citations})}</div>']
    if answer.warnings:
        parts.append(f'<div class="warnings" role="alert">{"<br>".join("⚠ " + _e(w) for w in answer.warnings)}</div>')
    if answer.extractive_answer:
        parts.append(f'<div class="extractive">原文摘录的答案：{_e(answer.extractive_answer)}</div>')
    if answer.citations:
        parts.append('<div class="citations"><div class="citations-title">引用原文（点击展开）</div>')
        parts += [_citation(turn, c) for c in answer.citations]
        parts.append("</div>")
    parts.append(_copy_button(reply_text(answer)))
    return "".join(parts)


def _copy_button(text: str) -> str:
    """复制回答 and the plain text it copies (the reply of the OpenAI API: answer, then numbered
    sources with section paths), ready for Word or WeChat instead of the message's HTML."""
    return (
        '<div class="copy-row"><button type="button" class="copy-answer">复制回答</button>'
        f'<pre class="plain-text">{_e(text)}</pre></div>'
    )


def render_partial(text: str) -> str:
    return f'<div class="answer-text">{_e(text)}</div>'


def china_time(iso: str) -> str:
    """An ISO time as officials read it: China time (UTC+8), to the minute; a time without a
    zone is taken as UTC, the zone the index records."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return f"{moment.astimezone(CHINA):%Y-%m-%d %H:%M}（北京时间）"


def list_label(conversation: ConversationSummary, now: datetime) -> str:
    """A line of 历史对话: the title, and below it when it was last answered in China time (with
    the year only when it is not this one). Gradio shows a choice's label as text, never markup."""
    when = conversation.updated_at.astimezone(CHINA)
    stamp = f"{when:%m-%d %H:%M}" if when.year == now.year else f"{when:%Y-%m-%d %H:%M}"
    return f"{conversation.title}\n{stamp}"


def owner_of(username: str | None, browser_id: object) -> tuple[str, object]:
    """(whose conversations these are, the id the browser should keep): the login user when
    there is a login, so they are theirs on any browser; else the browser's own random id, or a
    new one when it holds none (or anything but such an id)."""
    if username:
        return f"user:{username}", browser_id
    if not (isinstance(browser_id, str) and _BROWSER_ID.fullmatch(browser_id)):
        browser_id = uuid.uuid4().hex
    return f"browser:{browser_id}", browser_id


def matching_words(embedding: dict) -> str:
    """How passages are found, in words: the model's short name, or 字词匹配 for the hashing
    embedding (character n-grams, no model)."""
    kind, model = embedding.get("kind", ""), str(embedding.get("model", ""))
    if kind == "hashing":
        return "字词匹配"
    name = model.split(" (")[0].rstrip("/").rsplit("/", 1)[-1]
    return f"语义模型 {name}" if name else "语义模型"


def status_line(assistant: Assistant) -> str:
    """Which index is answering (the one loaded, not whatever is on disk now) and how."""
    m = assistant.index.manifest
    return _e(
        f"索引：{len(m.documents)} 份文档 · {m.chunks} 个段落 · 建于 {china_time(m.built_at)} · "
        f"检索：{matching_words(m.embedding)} · 回答方式：{MODES.get(assistant.mode, assistant.mode)}"
    )


# ---------------------------------------------------------------- conversation


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
            out.append({"role": "user", "content": _e(answer.question)})
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
        shown = state.messages() + [{"role": "user", "content": _e(text)}]
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
        sure = f"<div>{_e(f'删除「{deleting}」？删除后无法恢复。')}</div>" if deleting else ""
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
    return f'<div class="conv-note" role="status">{_e(message)}</div>' if message else ""


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
            gr.HTML(f'<h1 class="app-title">{_e(TITLE)}</h1>', padding=False)
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
