"""Word segmentation for lexical matching: jieba with the corpus's own vocabulary.

A separate jieba.Tokenizer per index keeps each corpus's user dictionary (places, cluster
names, organisations, multi-character terms) out of the global jieba state.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

_PUNCT = re.compile(r"^[\W_]+$", re.UNICODE)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    text = resources.files("assistant.data").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


class Tokenizer:
    def __init__(self, user_terms: list[str] | None = None) -> None:
        import jieba

        jieba.setLogLevel(60)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._pos = None
        for term in user_terms or []:
            self._jieba.add_word(term, freq=max(2000, 500 * len(term)), tag="n")

    @classmethod
    def from_file(cls, path: Path) -> "Tokenizer":
        terms = path.read_text(encoding="utf-8").split("\n") if path.is_file() else []
        return cls([t for t in terms if t])

    def tokens(self, text: str) -> list[str]:
        """Search-mode segmentation (words plus their sub-words), without stopwords or punctuation."""
        stop = stopwords()
        return [
            t.lower()
            for t in self._jieba.cut_for_search(text)
            if t.strip() and not _PUNCT.match(t) and t not in stop
        ]

    def tagged(self, text: str) -> list[tuple[str, str]]:
        """(word, part-of-speech flag) pairs, with the corpus vocabulary."""
        import jieba.posseg

        if self._pos is None:
            self._pos = jieba.posseg.POSTokenizer(self._jieba)
        return [(p.word, p.flag) for p in self._pos.cut(text)]
