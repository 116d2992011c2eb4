"""The answer as the reader gets it: the quoted sentences, each run of them followed by its
citation [n], with section titles where they lead or list."""

from __future__ import annotations

import re

from langchain_core.documents import Document

from assistant.answer.segments import Segment
from assistant.answer_models import Answer, Citation, Passage
from assistant.ingest.chunk import PATH_SEPARATOR
from assistant.ingest.normalize import compact

_LEAD = re.compile(r"^[^，。；：、]{1,6}[：:]")


def passage(doc: Document) -> Passage:
    m = doc.metadata
    return Passage(
        chunk_id=m["chunk_id"], source=m["source"], title=m.get("title", ""),
        section=m.get("section", ""), text=doc.page_content, score=round(float(m.get("score", 0.0)), 4),
    )


def _ending(text: str) -> str:
    return re.sub(r"[；;，,、：:]$", "。", text)


def _adjacent(seg: Segment, nxt: Segment, documents: list[Document]) -> bool:
    """`nxt` follows `seg` in the same passage with nothing but spaces between them."""
    if nxt.rank != seg.rank or nxt.start < seg.end:
        return False
    return not documents[seg.rank].page_content[seg.end : nxt.start].strip()


def section_heading(doc: Document) -> str:
    return doc.metadata.get("section", "").rpartition(PATH_SEPARATOR)[2]


def compose(
    question: str, chosen: list[Segment], documents: list[Document], passages: list[Passage], heading: str = "",
    items: list[str] | None = None,
) -> Answer:
    """The quoted sentences with their citations. Section titles, themselves quoted from the
    report, may join them: `heading` leads when the answer is a numbered item of the outline,
    and `items` (the sub-section titles of the last sentence's section) follow it as a list."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    if items and heading:  # the section's title and its items: no sentence of the passage is quoted
        p = passages[chosen[0].rank]
        text = f"{heading}：{'；'.join(items)}。[1]"
        return Answer(question=question, answer=text, answerable=True, citations=[Citation(n=1, **p.model_dump())], retrieved=passages)
    parts: list[str] = [f"{heading}：" if heading and not compact(chosen[0].text).startswith(compact(heading)) else ""]
    in_run = False
    for i, seg in enumerate(chosen):
        if seg.rank not in numbers:
            numbers[seg.rank] = len(numbers) + 1
            p = passages[seg.rank]
            citations.append(Citation(n=numbers[seg.rank], **p.model_dump()))
        citations[numbers[seg.rank] - 1].highlights.append((seg.start, seg.end))
        # a run of adjacent sentences is quoted as it stands and cited once, after its last sentence
        text = seg.text.strip() if in_run else _LEAD.sub("", seg.text.strip()).strip()
        in_run = i + 1 < len(chosen) and _adjacent(seg, chosen[i + 1], documents)
        if items and i == len(chosen) - 1:
            text = re.sub(r"[。；;，,：:]$", "", text) + "：" + "；".join(items) + "。"
        parts.append(text if in_run else _ending(text) + f"[{numbers[seg.rank]}]")
    return Answer(question=question, answer="".join(parts), answerable=True, citations=citations, retrieved=passages)
