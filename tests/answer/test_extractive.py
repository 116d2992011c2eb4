"""The extractive answerer on passages written in the test: what it quotes and when it declines."""

from langchain_core.documents import Document

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.query import Query


def passage(text: str, section: str = "二、对策建议 › 9、竞争", chunk_id: str = "c1", order: int | None = None) -> Document:
    metadata = {"chunk_id": chunk_id, "source": "r.md", "title": "某省产业报告", "section": section, "score": 1.0}
    return Document(page_content=text, metadata=metadata | ({"order": order} if order is not None else {}))


def ask(query: Query, *docs: Document):
    return ExtractiveAnswerer().answer(query.text, query, list(docs))


def test_a_list_the_best_sentence_opens_is_quoted_to_its_last_item():
    text = (
        "地区间的竞争压力日益加剧，主要有三方面：一是要素资源紧缺。二是工业利润走低。三是市场压力加大。"
        "与此同时，出口形势尚好。"
    )
    query = Query("竞争压力有哪几方面", {"竞争压力": 3.0, "方面": 1.0}, [], "list")
    answer = ask(query, passage(text))
    assert answer.answerable
    for item in ("要素资源紧缺", "工业利润走低", "市场压力加大"):
        assert item in answer.answer
    assert "出口形势" not in answer.answer
    assert answer.answer.endswith("[1]") and answer.answer.count("[1]") == 1  # one run, cited once


def test_a_numbered_heading_is_followed_by_the_text_under_it():
    text = "4.2 在高新技术领域实现技术突破。要首先在生物工程与新医药、新材料等产业实现突破。"
    query = Query("高新技术领域要在哪些产业突破", {"高新技术": 3.0, "领域": 1.0, "突破": 1.0}, [], "list")
    answer = ask(query, passage(text))
    assert "生物工程与新医药" in answer.answer


def test_a_decline_says_what_the_report_lacks_and_what_it_covers_not_a_nearby_section():
    text = "杭州有产业集群 124 个，年产值 3380 亿元。"
    query = Query("广东有多少个产业集群", {"产业集群": 2.0}, [], "quantity", "个", True, {"广东"})
    scope = "《某省产业报告》里的内容，它讲的是：一、现状。"
    answer = ExtractiveAnswerer(scope=scope).answer(query.text, query, [passage(text, section="一、现状 › 1、分布")])
    assert not answer.answerable and answer.citations == []
    assert "「广东」" in answer.answer and answer.answer.endswith(scope)
    assert "1、分布" not in answer.answer


def test_a_figure_of_another_kind_is_no_answer_to_a_year_question():
    text = "经过二十多年的努力，轻纺城成为亚洲最大的纺织品市场。"
    query = Query("轻纺城是哪一年开业的", {"轻纺城": 3.0}, [], "quantity", r"(?:1[89]|20)\d\d\s*年", True)
    assert not ask(query, passage(text)).answerable
    dated = "轻纺城于 1988 年开业，如今是亚洲最大的纺织品市场。"
    assert "1988" in ask(query, passage(dated)).answer


def test_a_grounded_runner_up_beats_a_top_sentence_without_the_number_asked_about():
    top = passage("年产值超 100 亿元的产业集群有 26 个，集群数量逐年增加。", chunk_id="a")
    runner_up = passage("年产值 300 亿元以上的产业集群有 7 个。", chunk_id="b")
    query = Query("年产值300亿元以上的产业集群有几个", {"年产值": 2.0, "产业集群": 1.0}, ["300"], "quantity", "个", True)
    answer = ask(query, top, runner_up)
    assert answer.answerable and "7 个" in answer.answer
    assert [c.chunk_id for c in answer.citations] == ["b"]


def test_a_number_the_question_names_counts_as_a_shared_word_when_the_wording_differs():
    top = passage("从地区分布看，杭州 124 个，年产值 3380 亿元；宁波 77 个，年产值 2500 亿元。", chunk_id="a")
    grounded = passage("全省工业总产值在亿元以上的制造业产业集群区块有 601 个，其中 300 亿元以上的 7 个。", chunk_id="b")
    query = Query("年产值300亿元以上的集群有几个", {"年产值": 3.0, "以上": 0.2}, ["300"], "quantity", "个", True)
    answer = ask(query, top, grounded)
    assert answer.answerable and "300 亿元以上的 7 个" in answer.answer
    assert [c.chunk_id for c in answer.citations] == ["b"]


def test_a_number_in_the_question_matches_whole_numbers_only():
    cities = passage(  # long enough to be quoted clause by clause, as the report's city list is
        "各市产业集群分布如下：台州 67 个，年产值 1680 亿元；宁波 81 个，年产值 2290 亿元；"
        "嘉兴 52 个，年产值 1110 亿元；湖州 30 个，年产值 680 亿元；金华 50 个，年产值 990 亿元。",
        chunk_id="a",
    )
    query = Query("年产值680亿元的是哪个市", {"年产值": 2.0}, ["680"], "other")
    answer = ask(query, cities)
    assert "湖州" in answer.answer and "台州" not in answer.answer


def test_a_list_question_is_declined_when_the_passage_only_gives_a_figure():
    query = Query("舟山的产业集群主要是哪些行业", {"舟山": 4.0, "产业集群": 0.5, "行业": 1.0}, [], "list", anchors={"舟山"})
    answer = ask(query, passage("舟山产业集群 11 个，年产值 110 亿元。"))
    assert not answer.answerable and "没有列出" in answer.answer


def test_a_count_said_of_the_place_asked_about_beats_a_sentence_naming_it_in_passing():
    in_passing = passage(
        "全省共有义乌小商品产业集群、绍兴轻纺产业集群等 29 个产业集群入选百佳，数量居全国第一。", chunk_id="a"
    )
    city_list = passage("各市的产业集群数量依次为：杭州 124 个；绍兴 58 个，年产值 2647 亿元；舟山 11 个。", chunk_id="b")
    query = Query("绍兴有多少个产业集群", {"绍兴": 3.0, "产业集群": 0.1}, [], "quantity", "个", True, {"绍兴"})
    answer = ask(query, in_passing, city_list)
    assert "绍兴 58 个" in answer.answer and "29" not in answer.answer


def test_a_comparison_quotes_a_sentence_for_each_subject_even_when_they_are_long():
    east = passage("东海产业带有着悠久的商业传统，民众的创新意识很强，很早就利用制度创新和技术创新，发展以“专业市场+家庭工厂”为主的农村工业化模式，"
                   "产业集群发展良好，集聚程度非常高，共有产业集群 140 个，产值 3415 亿元。", chunk_id="a")
    west = passage("西山产业带原有经济基础较差，产业集群的发展历史短，发展水平相对落后，拥有产业集群 126 个，产值 1554 亿元。",
                   chunk_id="b")
    query = Query("东海产业带和西山产业带哪个的集群多", {"东海产业带": 4.0, "西山产业带": 4.0, "集群": 0.1}, [], "other",
                  compares=True)
    answer = ask(query, east, west)
    assert "140 个" in answer.answer and "126 个" in answer.answer


def test_a_figure_of_the_wider_subject_is_no_answer_about_a_rarer_part_of_it():
    city = passage("杭州 124 个，年产值 3380 亿元。", chunk_id="a")
    cartoons = passage("杭州市的动漫产业集群已经拥有动漫游戏企业 80 多家。", chunk_id="b")
    query = Query("杭州动漫产业集群一年产值多少", {"杭州": 3.0, "动漫": 4.0, "年产值": 2.0}, [], "quantity", "元", True,
                  {"杭州"}, nouns={"杭州", "动漫", "年产值"})
    answer = ask(query, city, cartoons)
    assert not answer.answerable and "「动漫」" in answer.answer


def test_a_numbered_item_after_an_explanation_is_still_quoted_and_the_explanation_is_not():
    text = (
        "竞争压力日益加剧，一是要素资源紧缺；二是工业利润走低。利润长期低于全国平均水平；技改投入增幅下降；"
        "三是市场压力。原有产品的市场份额被不断分割。"
    )
    query = Query("竞争压力体现在哪三方面", {"竞争压力": 3.0, "方面": 1.0}, [], "list")
    answer = ask(query, passage(text)).answer
    assert "要素资源紧缺" in answer and "工业利润走低" in answer and "市场压力" in answer
    assert "技改投入" not in answer and "市场份额" not in answer


def test_a_list_goes_on_into_the_next_chunk_of_its_section_and_no_further():
    section = "二、对策建议 › （五）跨区域融合"
    first = passage("跨区域融合要做到三点。一是要构筑跨区域的产业链。", section, "c7", order=7)
    second = passage("一是要构筑跨区域的产业链。二是要构筑服务体系。三是要构筑竞合机制。", section, "c8", order=8)
    elsewhere = passage("三是别处的另一件事。", "二、对策建议 › （六）别的", "c20", order=20)
    query = Query("跨区域融合要构筑什么", {"跨区域": 3.0, "融合": 2.0, "构筑": 2.0}, [], "list")
    answer = ask(query, first, elsewhere, second)
    assert answer.answer.count("产业链") == 1 and "服务体系" in answer.answer and "竞合机制" in answer.answer
    assert "别处" not in answer.answer
    assert [c.chunk_id for c in answer.citations] == ["c7", "c8"]


def test_list_items_too_long_for_the_budget_are_quoted_by_their_first_clause():
    detail = "，鼓励县域内的服务机构拓宽服务面并加强合作，形成同质的市场环境、服务环境和政策环境" * 2
    text = "".join(f"{n}是要构筑跨区域的{item}{detail}。" for n, item in zip("一二三四", ["产业链", "服务体系", "竞合机制", "大品牌"]))
    query = Query("跨区域融合要构筑哪些东西", {"跨区域": 3.0, "构筑": 2.0}, [], "list")
    answer = ask(query, passage(text)).answer
    for item in ("产业链", "服务体系", "竞合机制", "大品牌"):
        assert f"跨区域的{item}" in answer
    assert len(answer) <= 2 * ExtractiveAnswerer().budget_chars + 20


def test_parallel_lead_in_labels_answer_a_list_question_by_their_labels():
    body = "以企业信息化为重点，大力促进信息技术的推广应用，鼓励支持企业建立研发中心。"
    text = "".join(f"加快{kind}类服务业发展：{body}" for kind in ("技术创新", "金融保险", "现代物流", "中介"))
    query = Query("要加快哪几类服务业发展", {"服务业": 3.0, "加快": 1.0, "发展": 0.5}, [], "list")
    answer = ask(query, passage(text)).answer
    for kind in ("技术创新", "金融保险", "现代物流", "中介"):
        assert f"加快{kind}类服务业发展" in answer
    assert "信息化" not in answer


def test_a_fact_question_about_one_labelled_item_gets_its_text_not_the_labels():
    body = "以企业信息化为重点，大力促进信息技术的推广应用。"
    text = "".join(f"加快{kind}类服务业发展：{body}" for kind in ("技术创新", "金融保险", "现代物流"))
    query = Query("技术创新类服务业以什么为重点", {"技术创新": 3.0, "服务业": 1.0, "重点": 1.0}, [], "other")
    assert "信息化" in ask(query, passage(text)).answer


RANKING = (
    "从地区分布看，各市的产业集群数量和产值差别较大。依次为：甲市 124 个，年产值 3380 亿元；乙市 77 个，年产值 2500 亿元；"
    "丙市 73 个，年产值 1735 亿元；丁市 25 个，年产值 136 亿元；戊市 24 个，年产值 108 亿元；己市 11 个，年产值 110 亿元。"
)


def test_the_bottom_of_a_listed_ranking_answers_which_has_the_fewest():
    query = Query("哪个市的产业集群数量垫底", {"产业集群": 1.0, "数量": 2.0}, [], "other", extreme="min")
    answer = ask(query, passage(RANKING)).answer
    assert "己市 11 个" in answer and "甲市" not in answer


def test_the_top_by_output_is_ranked_by_the_money_figure_not_the_count():
    query = Query("年产值最低的是哪个市", {"年产值": 3.0}, [], "other", extreme="min")
    answer = ask(query, passage(RANKING)).answer
    assert "戊市 24 个，年产值 108 亿元" in answer and "己市" not in answer


def test_the_number_of_a_heading_is_no_figure_for_a_quantity_question():
    query = Query("工业利润率是多少", {"工业": 1.0, "利润": 3.0}, [], "quantity")
    assert not ask(query, passage("9、地区间竞争加剧，工业利润长期走低。")).answerable
    assert "8.5%" in ask(query, passage("9、地区间竞争加剧，工业利润率为 8.5%。")).answer


def test_a_founding_year_needs_a_sentence_that_says_it_was_founded():
    year = r"(?:1[89]|20)\d\d\s*年"
    query = Query("科技园是哪一年开业的", {"科技园": 3.0}, [], "quantity", year, True, founding=True)
    assert not ask(query, passage("2009 年科技园的营业额达到 50 亿元。")).answerable
    assert "1999 年" in ask(query, passage("科技园于 1999 年开业，营业额逐年增长。")).answer


def test_whether_an_aim_came_true_is_not_answered_by_the_aim():
    query = Query("2012年用水真的平衡了吗", {"用水": 3.0, "平衡": 2.0}, ["2012"], "other", outcome=True)
    aim = passage("加快水厂建设，力争在 2012 年前实现用水供需平衡。", chunk_id="a")
    other = passage("2012 年用水需求增加，加快管网建设。", chunk_id="b")
    declined = ask(query, aim, other)
    assert not declined.answerable and "目标" in declined.answer
    assert ask(query, passage("2012 年已经实现用水供需平衡。")).answerable


def test_a_sentence_about_another_phase_gives_way_to_one_about_the_phase_asked():
    text = "对于起步阶段的集群，政策干预的主要目标是培育商业环境。在产业成熟期，放宽政策，鼓励兼并重组。"
    terms = {"成熟期": 4.0, "政策": 2.5, "干预": 4.0, "主要": 1.5, "目标": 4.0}
    answer = ask(Query("产业成熟期的集群，政策干预的主要目标是什么", terms, [], "other"), passage(text))
    assert answer.answer.startswith("在产业成熟期") and "起步阶段" not in answer.answer


def test_a_list_question_prefers_the_sentence_that_enumerates_the_kind_asked_for():
    intro = passage("充分发挥商会在园区中的重要作用，吸引配套企业进入园区。", chunk_id="a")
    items = passage("在园区内建立协作网、信息网及服务网络。", section="二、对策 › 3、发挥商会作用 › 3.3 组织企业", chunk_id="b")
    query = Query("商会在园区要建哪些网", {"商会": 3.0, "园区": 0.5, "网": 0.6}, [], "list", asked_kind="网")
    answer = ask(query, intro, items)
    assert "协作网、信息网" in answer.answer
    assert "b" in [c.chunk_id for c in answer.citations]


def test_a_number_the_question_names_is_found_written_in_chinese():
    query = Query("当局建了6个子系统，是哪6个", {"子系统": 3.0, "当局": 2.0}, ["6"], "list")
    answer = ask(query, passage("当局建立了六个子系统：研究发展中心、流通中心、金融服务系统。"))
    assert answer.answerable and "流通中心" in answer.answer
    hundred = Query("成交额超过100亿的市场有几个", {"成交额": 3.0, "市场": 1.0}, ["100"], "quantity")
    assert "15 个" in ask(hundred, passage("年成交额超十亿元市场 133 个，超百亿元市场 15 个。")).answer
    assert not ask(hundred, passage("入选中国百佳产业集群的市场成交额有 30 个。")).answerable


def test_a_figure_of_another_measure_is_no_answer():
    query = Query("新光集团去年利润是多少", {"新光集团": 4.0, "利润": 3.0}, [], "quantity", "元", True, measures=("利润",))
    assert not ask(query, passage("去年新光集团销售收入为 408 亿元，居全省第一。")).answerable
    assert "20 亿元" in ask(query, passage("去年新光集团利润为 20 亿元，销售收入 408 亿元。")).answer


def test_a_sentence_that_begins_with_another_hand_is_quoted_with_the_one_before_it():
    text = "园区的发展方式粗放，对水电资源掠夺式利用。另一方面，同质的排放使园区的生态问题加剧。园区规划另有专章。"
    query = Query("园区为什么出生态问题", {"园区": 0.5, "生态问题": 4.0}, [], "reason")
    answer = ask(query, passage(text))
    assert "掠夺式利用" in answer.answer and "另一方面" in answer.answer and "专章" not in answer.answer


def test_a_question_that_also_asks_what_to_do_gets_the_remedy_after_the_problem():
    text = "各部门对园区的统计口径不一致，导致统计数据出入很大。必须建立完整的园区统计体系。园区数量逐年增加。"
    query = Query("园区统计数据对不上咋回事，咋办", {"园区": 0.5, "统计": 3.0, "数据": 2.0}, [], "reason", remedy=True)
    answer = ask(query, passage(text))
    assert "口径不一致" in answer.answer and "统计体系" in answer.answer and "逐年增加" not in answer.answer


def test_an_item_asked_for_by_number_is_quoted_from_its_mark_to_the_next():
    text = "竞争压力加剧：一是资源紧缺；二是利润走低。全省利润低于全国平均；投入增幅下降；三是市场压力。"
    query = Query("竞争压力第二点是什么", {"竞争压力": 3.0}, [], "other")
    answer = ask(query, passage(text))
    assert answer.answer.startswith("二是利润走低") and "低于全国平均" in answer.answer
    assert "三是" not in answer.answer and "资源紧缺" not in answer.answer


def test_a_list_given_as_sub_sections_is_answered_by_their_titles():
    intro = passage("园区转型要综合考虑以下几点。", section="二、对策 › （四）改造园区")
    intro.metadata["subsections"] = ["1、实行清洁生产", "2、绿色招商", "3、完善基础设施"]
    query = Query("园区转型要注意哪几点", {"园区": 1.0, "转型": 2.0}, [], "list")
    assert ask(query, intro).answer == "园区转型要综合考虑以下几点：1、实行清洁生产；2、绿色招商；3、完善基础设施。[1]"
    named = passage("园区发展成效显著，但也存在一些问题。", section="一、现状 › （二）存在的主要问题")
    named.metadata["subsections"] = ["1、发展不均衡", "2、载体在小城镇"]
    problems = Query("园区存在哪些主要问题", {"园区": 0.5, "存在": 1.0, "主要": 1.0, "问题": 2.0}, [], "list", nouns={"园区", "问题"})
    assert ask(problems, named).answer == "（二）存在的主要问题：1、发展不均衡；2、载体在小城镇。[1]"


def test_a_threshold_the_question_names_picks_the_sentence_that_counts_by_it():
    text = "年产值超过千亿元的有 5 个行业。全省年工业总产值在亿元以上的园区有 601 个。"
    query = Query("年产值亿元以上的园区有多少个", {"年产值": 3.0, "园区": 2.0}, [], "quantity", "个", True, thresholds=("亿元以上",))
    assert "601 个" in ask(query, passage(text)).answer


def test_a_compound_s_head_word_stands_for_it():
    text = "各行业的年产值差别较大。全省年工业总产值达 2.1 万亿元，园区有 601 个。"
    query = Query("园区一年产值多少", {"年产值": 3.0, "园区": 2.0}, [], "other")
    assert "601 个" in ask(query, passage(text)).answer


def test_a_why_question_quotes_a_cause():
    text = "各部门的统计口径不一致，导致园区数据出入很大。建议统计部门予以研究。"
    query = Query("为啥建议统计部门研究园区统计", {"统计部门": 3.0, "研究": 1.0, "园区": 0.5}, [], "reason", why=True)
    answer = ask(query, passage(text))
    assert "导致园区数据出入很大" in answer.answer and "予以研究" in answer.answer
    causes = "园区发展很快。园区多在小城镇，因为那里的土地和劳动力便宜。"
    small_towns = Query("园区为什么多在小城镇", {"园区": 0.5, "小城镇": 3.0}, [], "reason", why=True)
    assert "因为" in ask(small_towns, passage(causes)).answer


def test_a_question_for_an_example_quotes_the_sentence_that_gives_one():
    text = "园区要重视补链项目的引进。补链能降低园区成本。如新光集团利用废渣新建补链项目，效益良好。"
    query = Query("园区补链有啥例子", {"园区": 0.5, "补链": 3.0}, [], "other", example=True)
    assert "新光集团" in ask(query, passage(text)).answer


def test_what_is_asked_for_in_jia_may_be_counted_in_ge():
    query = Query("大企业集团一共几家", {"大企业集团": 4.0}, [], "quantity", "家", True)
    assert "309 个" in ask(query, passage("到 2007 年底，全省共拥有大企业集团 309 个。")).answer



def _ranked(extreme: str, rank_at: int = 1, rank_top: int = 1, text: str = RANKING) -> str:
    query = Query("哪个市", {"产业集群": 1.0, "数量": 2.0}, [], "other", extreme=extreme, rank_at=rank_at, rank_top=rank_top)
    return ask(query, passage(text)).answer


def test_the_asked_place_of_a_ranking_is_answered_with_its_entry_and_figure():
    assert "乙市 77 个" in _ranked("max", rank_at=2) and "甲市" not in _ranked("max", rank_at=2)  # 排第二
    assert "戊市 24 个" in _ranked("min", rank_at=2) and "己市" not in _ranked("min", rank_at=2)  # 倒数第二
    top = _ranked("max", rank_top=3)  # 前三
    assert all(f"{name}市" in top for name in "甲乙丙") and "丁市" not in top
    tied = RANKING.replace("丙市 73 个", "丙市 77 个")
    second = _ranked("max", rank_at=2, text=tied)  # 并列第二: both
    assert "乙市 77 个" in second and "丙市 77 个" in second and "甲市" not in second


def test_entries_given_in_brackets_are_ranked_by_the_figure_the_question_asks_about():
    text = "其中年产值超过千亿元的行业分别为纺织业（51 个区块，年产值 2950 亿元）、服装业（53 个区块，年产值 1860 亿元）、化工业（40 个区块，年产值 1500 亿元）。"
    money = Query("哪个行业的集群年产值最高", {"行业": 1.0, "年产值": 1.0}, [], "other", extreme="max")
    answer = ask(money, passage(text)).answer
    assert "纺织业（51 个区块，年产值 2950 亿元）" in answer and "服装业" not in answer
    count = Query("哪个行业的集群区块最多", {"行业": 1.0, "区块": 1.0}, [], "other", extreme="max")
    assert "服装业（53 个区块" in ask(count, passage(text)).answer


def test_the_neighbours_of_a_sentence_run_in_reading_order_into_the_passage_that_continues_it():
    from assistant.answer.completion import neighbours

    first = passage("一是构筑产业链。二是构筑服务体系。", section="二、建议 › 3、融合", chunk_id="c1", order=4)
    second = passage("三是构筑竞合机制。四是打造品牌。", section="二、建议 › 3、融合", chunk_id="c2", order=5)
    elsewhere = passage("五是另一节的话。", section="二、建议 › 4、其他", chunk_id="c3", order=6)
    query = Query("融合要构筑哪些", {"构筑": 2.0}, [], "list")
    segments = ExtractiveAnswerer()._segments(query, [first, second, elsewhere])
    best = next(s for s in segments if s.text.startswith("二是"))
    assert [(offset, s.text) for offset, s in neighbours(best, segments)] == [
        (-1, "一是构筑产业链。"), (1, "三是构筑竞合机制。"), (2, "四是打造品牌。"),
    ]


def test_a_sentence_quoted_by_its_first_clause_still_finds_the_sentence_it_leans_on():
    from assistant.answer.completion import head_clause, leaned_on

    doc = passage("集群带来了生态问题。另一方面，企业只顾眼前利益，忽视了环境保护。")
    query = Query("生态问题怎么来的", {"生态": 2.0}, [], "reason")
    segments = ExtractiveAnswerer()._segments(query, [doc])
    cut = head_clause(next(s for s in segments if s.text.startswith("另一方面")))
    assert cut.text == "另一方面，" and cut not in segments
    assert [s.text for s in leaned_on(query, [cut], segments, 300)] == ["集群带来了生态问题。"]


def test_a_model_trained_on_other_features_is_set_aside_until_retrained():
    from assistant.answer.features import QUESTION_FEATURES, SENTENCE_FEATURES
    from assistant.index.ranking import Network, TrainedModel

    def network(names):
        return Network(names, [0.0] * len(names), [1.0] * len(names), [[[1.0]] * len(names)], [[0.0]])

    current = TrainedModel(ranker=network(SENTENCE_FEATURES), decliner=network(QUESTION_FEATURES))
    assert ExtractiveAnswerer(model=current).model is current
    older = TrainedModel(ranker=network(SENTENCE_FEATURES[:-1]), decliner=network(QUESTION_FEATURES))
    assert ExtractiveAnswerer(model=older).model is None
