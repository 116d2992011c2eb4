"""Turn a follow-up question into a standalone one, without a language model.

「那温州呢？」 after 「绍兴有多少个产业集群？」 means 「温州有多少个产业集群？」; 「它的产值呢？」
means the previous turn's subject's 产值. Entities (places, organisations, names) are found
with jieba's part-of-speech tags; the previous question supplies whatever the follow-up
leaves out.
"""

from __future__ import annotations

import re

from assistant.index.tokenize import Tokenizer, stopwords
from assistant.ingest.normalize import normalize_query
from assistant.ingest.outline import ORDINAL

History = list[tuple[str, str]] | list[list[str]]

# 「宁波那边」 is 宁波: a place word after a word adds nothing; standing alone (「那边产值呢」) it
# points back, like 它 (not 这块/那块: 「品牌这块」 is an aspect, not a place)
_DEICTIC = "这边|那边|这儿|那儿|这头|那头"
_AFTER_WORD = re.compile(rf"(?<=[\u4e00-\u9fff])(?:{_DEICTIC}|这里|那里)")
_PRONOUN = re.compile(rf"它们|它|其|该|这个|那个|这里|那里|这些|那些|他们|这家|那家|{_DEICTIC}")
_FILLER = re.compile(r"^(?:那么|那(?![边儿里头些个家])|还有|另外|再问一下|再问|然后)[，,、\s]*|[呢吗呀啊？?！!。\s]+$")
_ENTITY_TAGS = {"ns", "nr", "nt", "nz", "nrt"}
_OWN_PREDICATE = 3  # content words from which a follow-up says what it asks about itself
_SCOPING = re.compile(r"\d|[一二三四五六七八九十百千]+五")  # a figure or a plan period
_ASKING = re.compile(r"^(?:几|多少|哪|什么|啥|怎么|如何|为什么|为何)")
_STAGE = re.compile(r"(?:阶段|时期|期)$")  # 起步阶段, 产业成长期: phases of the same thing


def _words(text: str, tokenizer: Tokenizer) -> list[tuple[str, bool]]:
    """(word, is_entity) for content words, in order."""
    stop = stopwords()
    return [
        (w, flag in _ENTITY_TAGS)
        for w, flag in tokenizer.tagged(text)
        if w.strip() and w not in stop and not _PRONOUN.fullmatch(w) and re.search(r"\w", w)
    ]


def _swaps(now: list[tuple[str, bool]], before: list[tuple[str, bool]]) -> list[tuple[str, str]]:
    """(old, new) pairs when every word of a bare follow-up stands for a word of the previous
    question: a name for a name (温州 for 绍兴), or a word of the same kind, told by its last two
    characters (温台产业带 for 环杭州湾产业带). Empty when any word has no counterpart."""
    free = list(before)
    pairs = []
    for word, entity in now:
        match = next((old for old in free if old[0] != word and _same_kind(word, entity, *old)), None)
        if match is None:
            return []
        free.remove(match)
        pairs.append((match[0], word))
    return pairs


def _same_kind(word: str, entity: bool, old: str, old_entity: bool) -> bool:
    return old_entity if entity else old[-2:] == word[-2:]


def is_follow_up(question: str) -> bool:
    core = _FILLER.sub("", question)
    return (
        len(core) <= 8
        or bool(_PRONOUN.search(_AFTER_WORD.sub("", question)))
        or bool(re.match(r"^(?:那么|那|还有|另外|其中)", question))
    )


def condense(question: str, history: History, tokenizer: Tokenizer) -> str:
    if not history:
        return question
    previous = condense(normalize_query(history[-1][0]), history[:-1], tokenizer)
    if not is_follow_up(question):
        return question
    core = _AFTER_WORD.sub("", _FILLER.sub("", question))
    now = _words(core, tokenizer)
    before = _words(previous, tokenizer)
    now_entities = [w for w, e in now if e]
    before_entities = [w for w, e in before if e]
    item_now, item_before = ORDINAL.search(core), ORDINAL.search(previous)
    if item_now and item_before and len(core) - len(item_now.group(0)) <= 1:
        # 「第三条呢？」 after 「存在的问题，第一条是啥？」: the same question, another item
        return previous[: item_before.start()] + item_now.group(0) + previous[item_before.end() :]
    stage_now, stage_before = _stage(core, tokenizer), _stage(previous, tokenizer)
    if stage_now and stage_before and stage_now[1] == len(now) and stage_now[0] != stage_before[0]:
        # 「那到了产业成长期呢？」 after a question about 起步阶段: the same question, another phase
        return previous.replace(stage_before[0], stage_now[0], 1)
    swaps = _swaps(now, before)
    counterpart = None if swaps else _counterpart(core, previous, tokenizer)
    if counterpart:
        # 「金衢丽那边呢」 after a question about 环杭州湾产业带: the other region of the same kind
        return previous.replace(counterpart, core, 1)
    if swaps or (now_entities and len(now_entities) == len(now)):
        # 「那温州呢」「温台产业带呢」: the same question about another subject
        standalone = previous
        for old, new in swaps:
            standalone = standalone.replace(old, new, 1)
        return standalone if standalone != previous else f"{' '.join(now_entities)}{previous}"
    subject = "".join(before_entities) or (before[0][0] if before else "")
    if _PRONOUN.search(core) and subject:
        core = _PRONOUN.sub(subject, core, count=1)
    present = set(w for w, _ in _words(core, tokenizer))
    if len(now) >= _OWN_PREDICATE and not _PRONOUN.search(core):
        before = _scope(previous, before, tokenizer)
    # the previous question's words, not its question words (「几条」 would make this one ask a count),
    # nor its names when this one names its own (「宁波的产值呢」 after a question about 绍兴)
    carried = [w for w, e in before if w not in present and w not in core and not _ASKING.match(w)
               and not (e and now_entities)]
    return " ".join([core, *carried]).strip()


def _counterpart(core: str, previous: str, tokenizer: Tokenizer) -> str | None:
    """What `core` stands for in the previous question: a word the corpus puts where `core` goes
    in one of its compounds (环杭州湾 for 金衢丽: 环杭州湾产业带, 金衢丽产业带), found in it. Short
    names officials use (温台, 金衢丽) are neither names jieba knows nor words of the question."""
    if len(core) < 2:
        return None
    heads = {term[len(core):] for term in tokenizer.terms if term.startswith(core)}
    for term in tokenizer.terms:
        for head in heads:
            other = term[: -len(head)] if len(head) >= 2 and term.endswith(head) else ""
            if len(other) >= 2 and other != core and other in previous:
                return other
    return None


def _stage(text: str, tokenizer: Tokenizer) -> tuple[str, int] | None:
    """The first run of content words that ends in a phase (「产业成长期」), with its word count."""
    stop = stopwords()
    run: list[str] = []
    for word, _ in tokenizer.tagged(text):
        if word in stop or not re.search(r"\w", word):
            run = []
            continue
        run.append(word)
        if _STAGE.search(word):
            return "".join(run), len(run)
    return None


def _scope(previous: str, before: list[tuple[str, bool]], tokenizer: Tokenizer) -> list[tuple[str, bool]]:
    """What a follow-up that asks its own thing keeps of the previous question: the qualifier
    that scoped it (「年产值超10亿元」 in 「年产值超10亿元的集群有多少建了行业协会」) and its names,
    not its predicate (建了行业协会). Without a figure or a name in front of 的, everything."""
    qualifier, of, _ = previous.partition("的")
    if not (of and _SCOPING.search(qualifier)):
        return before
    scope = _words(qualifier, tokenizer)
    return scope + [(w, e) for w, e in before if e and (w, e) not in scope]
