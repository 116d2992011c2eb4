"""The chat UI (Gradio Blocks): questions in, streamed answers with numbered citations out.

Every answer comes from `Assistant.ask`; this module only renders it. All text from a user or
from the report is HTML-escaped here before it reaches the page, and the chatbot renders HTML
(not Markdown) through Gradio's sanitizer, so a question like `<img onerror=…>` stays text.
Conversation state (answers, feedback ids) lives server-side in `gr.State`, never in the page.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import gradio as gr

from assistant.answer_models import Answer, Citation
from assistant.chain import Assistant
from assistant.errors import UserError
from assistant.feedback import FeedbackStore
from assistant.settings import Settings
from assistant.ui_eval import eval_tab

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
MODES = {"extractive": "原文摘录", "llm": "大模型生成"}

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
.status-line { color: var(--body-text-color-subdued); font-size: .9em; }
"""

# [n] in an answer opens and scrolls to its passage: one click, no matter how old the answer is
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
</script>"""

_CITE = re.compile(r"\[(\d+)\]")
Event = str | Answer


def page_options() -> dict:
    """What Gradio 6 takes when the app is mounted rather than in Blocks: theme, CSS, script.

    System fonts only (the default theme fetches Google Fonts, which these machines cannot reach).
    """
    fonts = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    theme = gr.themes.Default(font=fonts, font_mono=["Noto Sans Mono CJK SC", "monospace"])
    return {"theme": theme, "css": CSS, "head": HEAD}


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
        f'<div class="passage">{highlight(c.text, c.highlights)}</div></details>'
    )


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
    return "".join(parts)


def render_partial(text: str) -> str:
    return f'<div class="answer-text">{_e(text)}</div>'


def status_line(assistant: Assistant) -> str:
    """Which index is answering (the one loaded, not whatever is on disk now) and how."""
    m = assistant.index.manifest
    try:
        built = datetime.fromisoformat(m.built_at).strftime("%Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        built = m.built_at
    embedding = f"{m.embedding.get('kind', '?')}:{m.embedding.get('model', '?')}"
    return _e(
        f"索引：{len(m.documents)} 份文档 · {m.chunks} 个段落 · 建于 {built} · "
        f"向量：{embedding} · 回答方式：{MODES.get(assistant.mode, assistant.mode)}"
    )


# ---------------------------------------------------------------- conversation


@dataclass
class Conversation:
    """One browser session's answers and the feedback row of each rated answer."""

    answers: list[Answer] = field(default_factory=list)
    feedback: dict[int, str] = field(default_factory=dict)
    commenting: int | None = None

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


def build_chat_tab(assistant: Assistant, settings: Settings) -> None:
    store = FeedbackStore(settings.data_dir)
    conversation = gr.State(Conversation())
    chatbot = gr.Chatbot(
        label="对话",
        elem_id="chat",
        height="62vh",
        render_markdown=False,
        sanitize_html=True,
        latex_delimiters=[],
        buttons=["copy"],
        placeholder="用平常的话提问，回答会附上报告原文出处。",
    )
    with gr.Row(equal_height=True):
        question = gr.Textbox(
            placeholder="请输入问题，按回车发送，例如：绍兴有多少个产业集群？",
            show_label=False,
            max_length=settings.max_question_chars,
            scale=8,
            elem_id="question",
            autofocus=True,
        )
        send = gr.Button("发送", variant="primary", scale=1, min_width=80)
        new_chat = gr.Button("新对话", scale=1, min_width=80, elem_id="new-chat")
    with gr.Row(visible=False, elem_id="feedback-row") as feedback_row:
        feedback_note = gr.Markdown()
        comment = gr.Textbox(placeholder="补充说明（可选）：哪里不对，或者缺了什么", show_label=False, scale=4,
                             max_length=2000, elem_id="feedback-comment")
        save_comment = gr.Button("提交说明", scale=1, min_width=100, elem_id="feedback-save")
    gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[question], label="可以这样问")

    def respond(text: str, state: Conversation):
        text = (text or "").strip()
        if not text:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        shown = state.messages() + [{"role": "user", "content": _e(text)}]
        yield "", shown + [{"role": "assistant", "content": render_partial("正在查找……")}], state
        received = ""
        try:
            for event in answer_events(assistant, text, state.history()):
                # the box was cleared once above; what the user types meanwhile is theirs
                if isinstance(event, Answer):
                    state.answers.append(event)
                    yield gr.skip(), state.messages(), state
                    return
                received += event
                yield gr.skip(), shown + [{"role": "assistant", "content": render_partial(received)}], state
        except UserError as exc:
            yield text, shown + [{"role": "assistant", "content": render_partial(f"无法回答：{exc}")}], state
        except Exception:  # a bug must not leave the chat hanging; the log has the details
            log.exception("answering %r failed", text)
            yield text, shown + [{"role": "assistant", "content": render_partial("出错了，请稍后再试。")}], state

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

    def reset():
        return [], "", Conversation(), gr.Row(visible=False)

    # a question sent while the last answer is still finishing waits its turn instead of being dropped
    asked = [
        question.submit(respond, [question, conversation], [question, chatbot, conversation], trigger_mode="always_last"),
        send.click(respond, [question, conversation], [question, chatbot, conversation], trigger_mode="always_last"),
    ]
    chatbot.like(rate, [conversation], [feedback_row, feedback_note, comment, conversation], concurrency_limit=None)
    save_comment.click(add_comment, [comment, conversation], [comment, feedback_note], concurrency_limit=None)
    comment.submit(add_comment, [comment, conversation], [comment, feedback_note], concurrency_limit=None)
    new_chat.click(reset, None, [chatbot, question, conversation, feedback_row], cancels=asked, concurrency_limit=None)


# The app's tabs, in order: each is (label, builder(assistant, settings)); a new tab is one entry.
TABS: list[tuple[str, Callable[[Assistant, Settings], None]]] = [
    ("问答", build_chat_tab),
    ("评测", eval_tab),
]


def build_ui(assistant: Assistant, settings: Settings) -> gr.Blocks:
    with gr.Blocks(title=TITLE, analytics_enabled=False) as ui:
        gr.HTML(f"<h2>{_e(TITLE)}</h2>")
        gr.HTML(f'<div class="status-line" id="status-line">{status_line(assistant)}</div>')
        with gr.Tabs():
            for label, build in TABS:
                with gr.Tab(label):
                    build(assistant, settings)
    # answers share the CPU: at most `concurrency` at once, a bounded line behind them
    ui.queue(default_concurrency_limit=settings.concurrency, max_size=settings.concurrency * 16)
    return ui
