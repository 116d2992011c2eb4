"""Query normalisation: full-width, traditional characters and Chinese numerals."""

import pytest

from assistant.ingest.normalize import compact, normalize_query


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("杭州有多少個產業集群？", "杭州有多少个产业集群?"),
        ("年产值三百亿元以上的有几个", "年产值300亿元以上的有几个"),
        ("超过一千亿元", "超过1000亿元"),
        ("百分之三十以上", "30%以上"),
        ("８０多家", "80多家"),
        ("二十九个集群", "29个集群"),
        ("台湾企业有多少家", "台资企业有多少家"),  # a paraphrase in data/aliases.tsv
        ("集群发展走到哪一步了", "集群发展处于什么阶段了"),  # a colloquial idiom, same table
        ("诸暨冒出了哪些集群", "诸暨涌现出了哪些集群"),
        ("产值过亿的集群", "产值亿元以上的集群"),
        ("没搞过新品的企业", "没搞过新产品的企业"),
        ("招不到熟练工人", "招不到技工"),
        ("07年全省有多少市场", "2007年全省有多少市场"),  # a short year, by its leading zero
        ("〇八年", "2008年"),
        ("连续17年", "连续17年"),  # no leading zero: maybe a duration, left alone
        ("汽车零件", "汽车零件"),  # 零 alone counts nothing
        ("才百分之十几", "才百分之十几"),  # a rough share is no figure to look for
    ],
)
def test_queries_are_brought_to_the_report_s_spelling(raw, expected):
    assert normalize_query(raw) == expected


@pytest.mark.parametrize("idiom", ["一乡一品", "“十一五”期间", "一镇一品", "三个方面的问题是什么"])
def test_idioms_and_plan_names_keep_their_numerals(idiom):
    assert normalize_query(idiom) == idiom.replace("三个", "3个")


def test_control_characters_and_extra_spaces_are_dropped():
    assert normalize_query("  杭州\x1b[31m  集群\u200b ") == "杭州 集群"


def test_compact_removes_all_whitespace_after_nfkc():
    assert compact("杭州 124 个，\n年产值　３３８０ 亿元") == "杭州124个,年产值3380亿元"
