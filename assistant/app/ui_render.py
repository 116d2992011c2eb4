"""An answer, a time and the index as the chat shows them: HTML built from escaped text only
(every text from a user or from the report passes `escape`), with [n] linked to its passage."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

from assistant.answer.chain import Assistant
from assistant.answer.reply import reply_text
from assistant.answer_models import Answer, Citation
from assistant.app import ui_source
from assistant.app.conversation_store import ConversationSummary

MODES = {"extractive": "原文摘录", "llm": "大模型生成"}


CHINA = timezone(timedelta(hours=8), "北京时间")


_CITE = re.compile(r"\[(\d+)\]")


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def highlight(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` escaped, with the quoted spans wrapped in <mark>; bad or overlapping spans are tolerated."""
    clipped = sorted((max(0, a), min(len(text), b)) for a, b in spans if min(len(text), b) > max(0, a))
    out, at = [], 0
    for start, end in clipped:
        start = max(start, at)
        if end <= start:
            continue
        out += [escape(text[at:start]), f"<mark>{escape(text[start:end])}</mark>"]
        at = end
    out.append(escape(text[at:]))
    return "".join(out)


def _anchor(turn: int, n: int) -> str:
    return f"cite-{turn}-{n}"


def _link_citations(text: str, turn: int, numbers: set[int]) -> str:
    def link(match: re.Match) -> str:
        n = int(match.group(1))
        if n not in numbers:
            return match.group(0)
        return f'<a class="cite-ref" href="#{_anchor(turn, n)}">[{n}]</a>'

    return _CITE.sub(link, escape(text))


def _citation(turn: int, c: Citation) -> str:
    where = escape(c.section or c.title or c.source)
    return (
        f'<details class="citation" id="{_anchor(turn, c.n)}">'
        f'<summary>[{c.n}] {where}<span class="source">{escape(c.source)}</span></summary>'
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
        parts.append(f'<div class="warnings" role="alert">{"<br>".join("⚠ " + escape(w) for w in answer.warnings)}</div>')
    if answer.extractive_answer:
        parts.append(f'<div class="extractive">原文摘录的答案：{escape(answer.extractive_answer)}</div>')
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
        f'<pre class="plain-text">{escape(text)}</pre></div>'
    )


def render_partial(text: str) -> str:
    return f'<div class="answer-text">{escape(text)}</div>'


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
    return escape(
        f"索引：{len(m.documents)} 份文档 · {m.chunks} 个段落 · 建于 {china_time(m.built_at)} · "
        f"检索：{matching_words(m.embedding)} · 回答方式：{MODES.get(assistant.mode, assistant.mode)}"
    )
