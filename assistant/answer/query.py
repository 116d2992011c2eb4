"""What a question asks: its topic words, the names it depends on, and the kind of answer it wants.

`analyse` reads a normalised question against the index's vocabulary and returns a `Query`:
content words weighted by rarity in the corpus; anchors (places, people, organisations, quoted
terms, plan periods) the answering passage must contain; numbers and thresholds it names; and
what kind of answer it wants - a count, a year, a list, a reason, a comparison, the top of a
ranking, a numbered item, whether an aim came true. The answerer (assistant.answer.extractive) decides
from this what to quote and when to decline.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from assistant.answer.names import is_person, is_place, short_name
from assistant.index.loaded import LoadedIndex
from assistant.index.tokenize import stopwords
from assistant.ingest.normalize import compact

QUANTITY = re.compile(r"多少|几[个家种件年倍项位]?|多大|多高|多长|比例|比重|百分之|占|排名|第几|哪一?年|何时|什么时候")
LISTING = re.compile(
    r"哪些|哪几|哪[两二三四五六七八九十]+[个大方类种项点条]|有什么|有啥|都有|包括|分别|列举|几个方面"
    r"|几[个项条类种大点][^，。？?]{0,8}(?:是啥|是什么|都是|分别)"  # 「推行的几项制度是啥」
)
# a question that weighs subjects against each other needs a sentence for each of them
COMPARING = re.compile(r"相比|对比|比较|比一比|区别|差别|差距|相差|差多少|哪个[^，。？?]{0,8}(?:多|少|高|低|大|小|强|弱|快|慢)|还是")
# a question for the top or the bottom of a ranking the report lists (「哪个市的集群数量垫底」)
_WHICH = re.compile(r"哪|谁")
_MOST = re.compile(r"最多|最高|最大|最强|第一多|排(?:名)?第一|排在?首位|居首|领头")
_LEAST = re.compile(r"最少|最低|最小|最弱|垫底|倒数第一|末位|排在?最后")
# a place in a ranking (「排第二」, 「第二名」, 「倒数第二」) or its first few (「前三」)
_NTH = re.compile(r"(倒数)?第([二两三四五六七八九十]|\d+)(?:名|位|多|高|大|少|低)?")
_FIRST_FEW = re.compile(r"前([二两三四五六七八九十]|\d+)(?:名|位|个|强)?")
_CN_SMALL = {c: i for i, c in enumerate("零一二三四五六七八九十")} | {"两": 2}
REASONING = re.compile(r"为什么|为何|原因|怎么|如何|怎样|措施|对策|建议|办法|途径|意义|作用|影响|问题")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# what a year question needs: a year, not a duration (「二十多年」)
YEAR = r"(?:1[89]|20)\d\d\s*年"
# the measure word a quantity question asks for (「那几年」 points back, it does not ask), and
# the nouns that imply one
_ASKED_UNIT = re.compile(
    r"(?<![那这])(?:多少|几)多?(个|家|件|种|吨|双|人|项|所|条|次|位|倍|分钟|平方米|平方公里|亿元|万元|元|亿|万|年)(?!钱)"
)  # 「几个钱」 asks for money, not a count
_IMPLIED_UNIT = [  # first match wins: 「科研经费的企业占多大比例」 asks for a share, not money
    (re.compile(r"比例|比重|百分之|占比|占有率|多少成|占多少|占多大"), "%|分之", False),
    (re.compile(r"增长|增幅|递增|涨|上升|下降"), "%|百分点|倍", False),
    (re.compile(r"面积|占地|多大地方"), "平方米|平方公里|亩|公顷", True),
    (re.compile(r"员工|职工|雇员|就业|人数|人员|多少人|工人"), "人|名", True),
    (re.compile(r"哪一?年|何年|什么时候|何时|成立|建成|开业|设立"), YEAR, True),
    (re.compile(r"产值|成交额|收入|销售额|总额|资金|经费|投资|利润|成本|价格|价钱|花费|钱"), "元", True),
]
# when a thing was founded is answered by a sentence that says it was founded, not by any year
# it is mentioned with (「2007 年……通过轻纺城流向国内外」 does not date the market's opening)
FOUNDING = re.compile(r"成立|建成|建立|建起|建于|建的|创建|创办|兴建|始建|组建|开业|开张|开办|设立|投产|挂牌|落成|诞生")
# 「真的平衡了吗」 asks whether something came true; 「力争在 2010 年前实现」 only sets the aim
_OUTCOME = re.compile(r"(?:真的|真正|到底|究竟|是否|有没有|已经)[^，。？?]{0,20}吗|了(?:吗|没有?)\s*[？?]?\s*$")
# what a list question asks for is the first noun after its question word (「搭哪些网」,
# 「哪几类服务业」): a sentence that enumerates items of that kind (「协作网、信息网」) answers it
_WHICH_WORD = re.compile(r"哪|什么|啥")
_HOW_MANY = re.compile(r"^(?:多少|几|百分之几)")
_GENERIC_MEASURE = re.compile(r"数量|数目|个数|总数|数字|规模|情况|水平|比例|比重|份额|占比|百分比|比率")
# what may stand between the measured noun and 「多少」: 「利润具体是多少」, 「人数一共有多少」
_BETWEEN_MEASURE_AND_QUESTION = {"v", "d", "p", "uj", "ul", "r", "c", "a", "ad", "j"}
# a question that asks why, and the sentences that give a cause
_WHY = re.compile(r"为什么|为啥|为何|什么原因|啥原因|怎么会|咋会|原因是")
# a question that asks for an example (「有啥具体例子」)
_EXAMPLE_ASKED = re.compile(r"例子|举例|举个例|案例|典型|比如说")
# a question that asks what to do, and the sentences that say it
_REMEDY_ASKED = re.compile(r"咋办|怎么办|怎样办|如何解决|怎么解决|咋解决|如何应对|怎么应对|什么办法|啥办法|对策")
_THRESHOLD = re.compile(r"\d*(?:\.\d+)?(?:亿元|万元|亿|万)(?:以上|以下)")
_HAN = re.compile(r"[\u4e00-\u9fff]")  # (a quoted 「onerror="x=1"」 in pasted HTML names nothing)
_QUOTED = re.compile(r"[“「『\"]([^”」』\"]{1,16})[”」』\"]")
# the count of the subjects a question has just named (「环杭州湾和温台2条产业带」)
_APPOSITION = re.compile(r"[和与及、跟][\u4e00-\u9fff]{1,8}?(\d)(?:个|条|家|项|类|种|大|座)")
# a number the question names as a constraint, not one that counts the parts of the answer
# it wants (「哪3个方面」, 「这2个」), and not a rough one (「30多个」)
_CONSTRAINT = re.compile(r"(?<![哪这那几前\d.])\d+(?:\.\d+)?(?![\d.]|多|几|余|来)")
# a plan period (十一五) or a figure with digits: when the corpus never uses it, the question is
# about a time or quantity the report does not cover
_PERIOD = re.compile(r"^[一二三四五六七八九十]+五$|\d")


@dataclass
class Query:
    text: str
    terms: dict[str, float]  # content word -> weight (IDF)
    numbers: list[str]
    kind: str  # "quantity" | "list" | "reason" | "other"
    unit: str | None = None  # regex alternatives for the unit a quantity answer carries
    unit_required: bool = False  # the report must state the figure in that unit, or we decline
    anchors: set[str] = field(default_factory=set)  # words the answering passage must contain
    compares: bool = False
    extreme: str | None = None  # "max" | "min": the question asks which entry of a ranking tops it
    rank_at: int = 1  # which place from that end (「倒数第二」: min, 2)
    rank_top: int = 1  # how many places from that end (「前三」: 3)
    nouns: set[str] = field(default_factory=set)  # terms that name a thing, not an action
    asked_kind: str | None = None  # the kind of thing a list question wants listed (网, 服务业)
    founding: bool = False  # asks when something was founded, opened or set up
    outcome: bool = False  # asks whether something actually happened
    measures: tuple[str, ...] = ()  # what a quantity question measures (利润 in 「利润是多少」)
    remedy: bool = False  # also asks what to do about it (「咋办」)
    why: bool = False  # asks for a cause (「为啥…」)
    example: bool = False  # asks for an example (「有啥具体例子」)
    thresholds: tuple[str, ...] = ()  # 「亿元以上」: the sentence that counts by it is the answer
    unknown_share: float = 0.0  # of its content words (two characters or more), those the corpus never uses

    @property
    def total(self) -> float:
        return sum(self.terms.values()) or 1.0


# jieba part-of-speech flags of words that carry no topic: adverbs, pronouns, particles,
# prepositions, conjunctions, interjections, classifiers, numerals, directions
FUNCTION_FLAGS = {"d", "r", "y", "u", "uj", "ul", "uz", "ud", "ug", "uv", "p", "c", "e", "o", "q", "m", "f", "zg", "k", "h"}
# names of places, people and organisations must be in the answering passage; a name, plan
# period or dated figure the corpus never uses (江苏, 十二五 in a 十一五 report) means the
# report does not cover the question. Other unknown words (扎堆, 眼下) are just how people talk.
NAME_FLAGS = {"ns", "nr", "nt", "nz", "nrt", "nrfg"}
UNKNOWN_NAME_FLAGS = {"ns", "nr", "nt", "nrt", "nrfg"}
TIME_FLAGS = {"m", "t"}


def _names_something(word: str, flag: str, index: LoadedIndex) -> bool:
    """Whether a word jieba tags as a place or a person really names one (assistant.answer.names);
    jieba's 'person' is sometimes a place (嘉善, 余姚)."""
    if flag == "ns":
        return is_place(word)
    if flag in ("nr", "nrt", "nrfg"):
        return is_person(word, index.tokenizer.frequency(word)) or is_place(word)
    return True


def _misread(word: str, question: str, index: LoadedIndex) -> bool:
    """An unknown name that jieba cut out of a known phrase (「和金」 from 「和金衢丽产业带」);
    a real word (「广东省」) is never a misreading, however its neighbours overlap the corpus."""
    if index.chunk_frequency(word) or index.tokenizer.knows(word):
        return False
    at = question.find(word)
    if at < 0:
        return False
    end = at + len(word)
    for size in (3, 4):
        for start in range(max(0, at - size + 1), end):
            piece = question[start : start + size]
            inside = at <= start and start + size <= end
            if len(piece) == size and not inside and index.chunk_frequency(piece):
                return True
    return False


def _known_parts(word: str, index: LoadedIndex, stop: frozenset[str]) -> list[str]:
    """The longest corpus words inside an unknown word of three or more characters, left to right."""
    parts: list[str] = []
    at = 0
    while len(word) >= 3 and at < len(word) - 1:
        for size in range(len(word) - at - (at == 0), 1, -1):
            piece = word[at : at + size]
            if piece not in stop and index.chunk_frequency(piece):
                parts.append(piece)
                at += size
                break
        else:
            at += 1
    return parts


def _idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def analyse(question: str, index: LoadedIndex) -> Query:
    """The question's topic words, weighted by rarity in the corpus.

    Colloquial words the corpus never uses are ignored (they say how, not what). Names and
    numerals the corpus never uses (江苏 in a Zhejiang report, 十二五 in a 十一五 one) are
    anchors: the question is about something the report does not cover. Known names are
    anchors too: the answering passage must contain them.
    """
    stop = stopwords()
    n = index.lexical.n_docs
    terms: dict[str, float] = {}
    anchors: set[str] = set()
    nouns: set[str] = set()
    asked_kind: str | None = None
    after_which = False
    content = unknown = 0
    tagged = index.tokenizer.tagged(question)
    for i, (word, flag) in enumerate(tagged):
        if after_which and asked_kind is None and flag.startswith("n"):
            asked_kind = word
        after_which = after_which or bool(_WHICH_WORD.search(word))
        word = word.strip().lower()
        if not word or word in stop or _NUMBER.fullmatch(word) or not re.search(r"\w", word):
            continue
        df = index.chunk_frequency(word)
        if not df and is_place(word) and index.chunk_frequency(short_name(word)):
            word = short_name(word)
            df = index.chunk_frequency(word)
        if len(word) >= 2 and flag not in FUNCTION_FLAGS:
            content += 1
            unknown += not df
        names = NAME_FLAGS if df else UNKNOWN_NAME_FLAGS
        named = (flag in names and _names_something(word, flag, index)) or (
            not df and flag in TIME_FLAGS and bool(_PERIOD.search(word))
        )
        if named and not _misread(word, question, index):
            anchors.add(word)

        if df and flag not in FUNCTION_FLAGS:
            # a lone character (靠, 排, 抓) says little about the topic on its own
            terms[word] = _idf(df, n) * (0.3 if len(word) == 1 else 1.0)
            if flag.startswith("n"):
                nouns.add(word)
        elif not df and flag.startswith("n") and not named:
            # an unknown compound noun still names its topic by the words it is made of:
            # 「利润率」 is about 利润 (which the report gives no rate for)
            for part in _known_parts(word, index, stop):
                terms.setdefault(part, _idf(index.chunk_frequency(part), n))
                nouns.add(part)
    # a threshold (「亿元以上」, 「10亿元以上」) counts like a number the question names
    thresholds = tuple(p for p in _THRESHOLD.findall(question) if index.chunk_frequency(p))
    # a quoted term names something exactly (“亩均论英雄”): the answering passage must contain it
    anchors.update(compact(q) for q in _QUOTED.findall(question) if len(compact(q)) >= 2 and _HAN.search(q))
    kind = _kind(question)
    unit, required = _asked_unit(question) if kind == "quantity" else (None, False)
    measured, counted = _measured(tagged) if kind == "quantity" else (None, False)
    measures: tuple[str, ...] = ()
    if measured and index.chunk_frequency(measured):
        measures = (measured,)
    elif measured:  # 「增长率」 is measured as 增长; 「多少个摊位」 counts what the report never mentions
        measures = tuple(_known_parts(measured, index, stop))
        if not measures and counted:
            anchors.add(measured)

    # 一 before a measure word is mostly "a" (一年, 一双, 一次), not a figure to look for
    # ... nor the count of the subjects it has just named (「环杭州湾和温台两条产业带」)
    named_count = {m.group(1) for m in _APPOSITION.finditer(question)}
    numbers = [n for n in _CONSTRAINT.findall(question) if n != "1" and n not in named_count]
    compares = bool(COMPARING.search(question))
    extreme, rank_at, rank_top = None, 1, 1
    if _WHICH.search(question):
        extreme = "max" if _MOST.search(question) else "min" if _LEAST.search(question) else None
        nth, few = _NTH.search(question), _FIRST_FEW.search(question)
        if extreme is None and nth:
            extreme, rank_at = ("min" if nth.group(1) else "max"), _small_number(nth.group(2))
        elif extreme is None and few:
            extreme, rank_top = "max", _small_number(few.group(1))
    return Query(
        question, terms, numbers, kind, unit, required, anchors, compares=compares, nouns=nouns, extreme=extreme,
        rank_at=rank_at, rank_top=rank_top,
        founding=unit == YEAR and bool(FOUNDING.search(question)), outcome=bool(_OUTCOME.search(question)),
        asked_kind=asked_kind if kind == "list" else None, measures=measures, thresholds=thresholds, remedy=bool(_REMEDY_ASKED.search(question)),
        why=bool(_WHY.search(question)), example=bool(_EXAMPLE_ASKED.search(question)),
        unknown_share=unknown / content if content else 0.0,
    )


def _small_number(text: str) -> int:
    return int(text) if text.isdigit() else _CN_SMALL.get(text, 10)


def _kind(question: str) -> str:
    if LISTING.search(question):
        return "list"
    if REASONING.search(question):
        return "reason"
    if QUANTITY.search(question):
        return "quantity"
    return "other"


def _specific(noun: str) -> str | None:
    return None if len(noun) < 2 or _GENERIC_MEASURE.search(noun) else noun


def _measured(tagged: list[tuple[str, str]]) -> tuple[str | None, bool]:
    """The noun a quantity question counts or measures, and whether it is counted with a
    measure word: 「多少个摊位」 (摊位, True), 「利润是多少」 (利润, False). Generic ones
    (数量, 规模) and single characters (钱, 双) name no measure of their own; the unit asked for
    covers those."""
    for i, (word, flag) in enumerate(tagged):
        if not _HOW_MANY.match(word):
            continue
        after = tagged[i + 1 : i + 3]
        counted = bool(after) and after[0][1] in ("q", "m")  # 多少个, 多少吨
        if counted:
            after = after[1:]
        if after and after[0][1].startswith("n") and after[0][1] not in NAME_FLAGS:
            return _specific(after[0][0]), counted
        if counted:
            return None, False
        for before, flag_before in list(reversed(tagged[:i]))[:3]:  # 「利润具体是多少」: near it
            if _GENERIC_MEASURE.search(before):
                return None, False
            if flag_before.startswith("n") and flag_before not in NAME_FLAGS:
                return _specific(before), False
            if flag_before == "x" or flag_before not in _BETWEEN_MEASURE_AND_QUESTION:
                return None, False
        return None, False
    return None, False


def _asked_unit(question: str) -> tuple[str | None, bool]:
    asked = _ASKED_UNIT.search(question)
    if asked:
        return asked.group(1), True
    for pattern, unit, required in _IMPLIED_UNIT:
        if pattern.search(question):
            return unit, required
    return None, False


NAMED_SECTION = 0.5  # how much of a list question's nouns a section title must cover to be "the" list
NAMED_SECTION_LEADS = 0.7  # ... for the retriever to put that section first, whatever its words
_TRIVIAL = 0.5  # a title that only repeats words this common (集群) names nothing in particular


def title_coverage(query: Query, title: str) -> float:
    """How much of the question's nouns (by weight) a section title names; a compound counts
    half when only its head word is there (「浙江产业集群」 in 「产业集群的特点」). Zero when
    what it names is only the report's everyday vocabulary."""
    weights = {t: query.terms[t] for t in query.nouns if t in query.terms}
    flat = compact(title)
    credit = {t: w if t in flat else 0.5 * w if len(t) >= 3 and t[-2:] in flat else 0.0 for t, w in weights.items()}
    if math.fsum(credit.values()) < _TRIVIAL:
        return 0.0
    return math.fsum(credit.values()) / math.fsum(weights.values())
