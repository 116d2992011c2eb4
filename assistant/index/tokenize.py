"""Word segmentation for lexical matching: jieba with the corpus's own vocabulary.

A separate jieba.Tokenizer per index keeps each corpus's user dictionary (places, cluster
names, organisations, multi-character terms) out of the global jieba state.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

_PUNCT = re.compile(r"^[\W_]+$", re.UNICODE)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    text = resources.files("assistant.data").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def _dictionary() -> tuple[dict[str, int], int]:
    """jieba's main dictionary (word → frequency, total), read once per process.

    Reading it is the slowest step of opening or building an index; every Tokenizer copies
    this dict instead, which is an order of magnitude cheaper.
    """
    import jieba

    jieba.setLogLevel(60)
    base = jieba.Tokenizer()
    base.initialize()
    return base.FREQ, base.total


@lru_cache(maxsize=1)
def _pos_tokenizer_class():
    """jieba's POSTokenizer, with the part-of-speech table of the main dictionary parsed once
    per process (jieba.posseg already did so on import) rather than once per tokenizer."""
    import jieba.posseg

    shared = jieba.posseg.dt.word_tag_tab

    class SharedTablePOSTokenizer(jieba.posseg.POSTokenizer):
        def load_word_tag(self, f) -> None:
            f.close()
            self.word_tag_tab = dict(shared)

    return SharedTablePOSTokenizer


class Tokenizer:
    def __init__(self, user_terms: list[str] | None = None) -> None:
        import jieba

        freq, total = _dictionary()
        self._jieba = jieba.Tokenizer()
        self._jieba.FREQ, self._jieba.total, self._jieba.initialized = dict(freq), total, True
        self.terms = tuple(user_terms or ())  # the corpus's own vocabulary (assistant.index.lexicon)
        for term in self.terms:
            self._jieba.add_word(term, freq=max(2000, 500 * len(term)), tag="n")
        self._pos = None  # the part-of-speech tagger, made whole on first use (an index build needs none)
        self._pos_lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> "Tokenizer":
        terms = path.read_text(encoding="utf-8").split("\n") if path.is_file() else []
        return tokenizer_for(tuple(t for t in terms if t))

    def knows(self, word: str) -> bool:
        """Whether `word` is in the dictionary (jieba's own or the corpus's), i.e. a real word."""
        return self.frequency(word) > 0

    def frequency(self, word: str) -> int:
        """How common `word` is in jieba's dictionary (0 when it is not there)."""
        return self._jieba.FREQ.get(word) or 0

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
        return [(p.word, p.flag) for p in self._tagger().cut(text)]

    def prepare(self) -> None:
        """Load the part-of-speech tagger now, before a server's threads first need it."""
        self._tagger()

    def _tagger(self):
        """Made once, under a lock, and published only when whole: jieba hands the user terms'
        tags to the first POSTokenizer that asks and then forgets them, so two made at once by
        racing threads left one without the corpus's 328 terms for the life of the server."""
        if self._pos is None:
            with self._pos_lock:
                if self._pos is None:
                    tagger = _pos_tokenizer_class()(self._jieba)
                    tagger.makesure_userdict_loaded()
                    self._pos = tagger
        return self._pos


@lru_cache(maxsize=4)
def tokenizer_for(user_terms: tuple[str, ...]) -> Tokenizer:
    """One tokenizer per vocabulary and process: a build and the index it opens share it, and
    a tokenizer never changes after it is made."""
    return Tokenizer(list(user_terms))
