"""Sentence and clause boundaries for Chinese text, as (start, end) spans.

Chunking never cuts inside a sentence; answering quotes sentences, or clauses of a long
sentence (a semicolon-separated list such as city-by-city figures), so both share one
notion of where a unit ends.
"""

from __future__ import annotations

import re

_SENTENCE = re.compile(r"[^。！？!?]*(?:[。！？!?]+[”’\"』」）)]*|$)")
_CLAUSE = re.compile(r"[^；;]*(?:[；;]|$)")


def _spans(pattern: re.Pattern[str], text: str, base: int = 0) -> list[tuple[int, int]]:
    spans = []
    for m in pattern.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        if start < end and text[start:end].strip():
            spans.append((base + start, base + end))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    return _spans(_SENTENCE, text)


def clause_spans(text: str, long_sentence: int = 90) -> list[tuple[int, int]]:
    """Sentences, with each sentence longer than `long_sentence` split at semicolons."""
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        if end - start > long_sentence:
            spans.extend(_spans(_CLAUSE, text[start:end], start))
        else:
            spans.append((start, end))
    return spans
