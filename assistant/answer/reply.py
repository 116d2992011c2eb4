"""An `Answer` as one block of text, for clients that show nothing but text.

Chat clients of the OpenAI API and MCP hosts display the reply as it is written, so the
sources have to be in the text itself: the answer with its [n] markers, then a 来源 list of
n, section path and the sentence quoted. `strip_sources` undoes it, so a reply a client sends
back as history is the answer again, not the answer plus the passages it quoted.
"""

from __future__ import annotations

from assistant.answer_models import Answer, Citation

SOURCES_HEADING = "来源："
MAX_QUOTE_CHARS = 160  # a citation with no quoted span shows the start of its passage


def quoted(citation: Citation) -> str:
    """What the answer quotes from a citation: its highlighted spans, else its passage's start."""
    spans = [citation.text[start:end].strip() for start, end in citation.highlights]
    text = "…".join(s for s in spans if s) or citation.text.strip()
    return text if len(text) <= MAX_QUOTE_CHARS else text[:MAX_QUOTE_CHARS] + "…"


def source_line(citation: Citation) -> str:
    """One numbered source as officials cite it: [n], section path, the sentence quoted."""
    return f"[{citation.n}] {citation.section or citation.title}：「{quoted(citation)}」"


def reply_blocks(answer: Answer) -> tuple[list[str], list[str]]:
    """(the answer's paragraphs, its numbered source lines): what every text form of a reply
    shows, so the copied text, the API reply and the exported files cannot drift apart."""
    body = [answer.answer.strip()]
    if answer.extractive_answer:
        body.append(f"抽取式答案：{answer.extractive_answer}")
    return body, [source_line(c) for c in answer.citations]


def reply_text(answer: Answer) -> str:
    """The answer with its [n] markers, then one 来源 line per citation (markdown list, plain-text readable)."""
    body, sources = reply_blocks(answer)
    if sources:
        body.append("\n".join([SOURCES_HEADING, *(f"- {line}" for line in sources)]))
    return "\n\n".join(body)


def strip_sources(text: str) -> str:
    """A reply of `reply_text` without its 来源 list (other text is returned as it is)."""
    head, sep, _ = text.rpartition(f"\n\n{SOURCES_HEADING}\n")
    return head.strip() if sep else text.strip()
