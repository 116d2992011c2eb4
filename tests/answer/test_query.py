"""Query analysis: what a question asks, read against the report's vocabulary."""

import pytest

from assistant.answer.query import _asked_unit, analyse


@pytest.mark.parametrize(
    "question, unit, required",
    [
        ("人均销售收入平均涨了多少", "%|百分点|倍", False),  # a rise is a rate, not the money it rose on
        ("做一双袜子得花几个钱", "元", True),
        ("万向集团的利润是多少", "元", True),
        ("轻纺城是哪一年建起来的", r"(?:1[89]|20)\d\d\s*年", True),
        ("那边大概有多少从业人员", "人|名", True),
    ],
)
def test_the_kind_of_figure_a_question_asks_for(question, unit, required):
    assert _asked_unit(question) == (unit, required)


def test_a_word_jieba_tags_as_a_name_is_read_as_a_common_word_where_it_is_one(report_index):
    assert "扎堆" not in analyse("纺织企业扎堆的地方有哪些？", report_index).anchors  # 扎堆 is dictionary-tagged ns
    assert "扎堆" not in analyse("为什么企业大多扎堆在县城？", report_index).anchors
    assert "苏州" in analyse("企业在苏州有多少家？", report_index).anchors
    assert "林子" not in analyse("哪个县林子不多却有木业市场？", report_index).anchors  # a common word tagged nr
    assert "马云" in analyse("马云的企业有多少家？", report_index).anchors
    assert "嘉善" in analyse("嘉善的木业有多大?", report_index).anchors  # a place jieba tags as a person
    assert "大都" not in analyse("台资企业大都落在哪?", report_index).anchors
    assert "日本" in analyse("日本有多少个产业集群?", report_index).anchors


def test_a_place_asked_with_its_suffix_is_the_place_the_report_names_without_it(report_index):
    assert "嘉兴" in analyse("嘉兴市有几个产业集群，产值多少亿？", report_index).anchors  # the report writes 嘉兴
    assert analyse("四川省有多少个集群？", report_index).anchors & {"四川", "四川省"}  # never named, either way


def test_only_whole_numbers_of_the_question_are_its_constraints(report_index):
    assert analyse("年产值超10亿的那285个集群里，特色区块占多少?", report_index).numbers == ["10"]
    assert analyse("环杭州湾和温台2条产业带比一比，产值差多少?", report_index).numbers == []  # the subjects' count
    assert analyse("投入年均增长是30多个百分点?", report_index).numbers == []  # a rough figure


def test_a_section_title_covers_the_nouns_a_list_question_names():
    from assistant.answer.query import Query, title_coverage

    query = Query("园区建设有哪些特点", {"园区建设": 2.0, "特点": 2.0}, [], "list", nouns={"园区建设", "特点"})
    assert title_coverage(query, "2、园区建设的特点") == 1.0
    assert title_coverage(query, "2、建设的特点") == 0.75  # the compound by its head word: half
    assert title_coverage(query, "3、资金保障") == 0.0
    common = Query("园区有哪些难处", {"园区": 0.04}, [], "list", nouns={"园区"})
    assert title_coverage(common, "（四）改造园区") == 0.0  # only an everyday word: names nothing


def test_how_many_items_followed_by_what_they_are_is_a_list_question(report_index):
    assert analyse("报告要求全面推行的几项制度是啥?", report_index).kind == "list"
    assert analyse("全省有几个产业集群?", report_index).kind == "quantity"


def test_the_measured_noun_is_the_one_next_to_how_many(report_index):
    assert analyse("有公共服务机构的占比大概多少?", report_index).measures == ()  # 占比 is no measure of its own
    assert analyse("万向集团的利润具体是多少?", report_index).measures == ("利润",)


@pytest.mark.parametrize(
    "question, extreme, rank_at, rank_top",
    [
        ("哪个市的集群最多？", "max", 1, 1),
        ("集群数量垫底的是哪个市？", "min", 1, 1),
        ("集群产值排第二的是哪个市？", "max", 2, 1),
        ("集群数量倒数第二的是哪个市？", "min", 2, 1),
        ("集群数量排前三的市是哪些？", "max", 1, 3),
        ("宁波集群产值在全省排第几？", None, 1, 1),  # asks for a place, names none
    ],
)
def test_the_place_in_a_ranking_a_question_asks_for(report_index, question, extreme, rank_at, rank_top):
    query = analyse(question, report_index)
    assert (query.extreme, query.rank_at, query.rank_top) == (extreme, rank_at, rank_top)
