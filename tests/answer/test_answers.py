"""Answers over the real report: short, exact, cited, and declined when the report is silent."""

from assistant.ingest.normalize import compact

CITY_SECTION = "一、产业集群现状 › （一）我省产业集群发展回顾 › 1、产业集群的形成与分布"


def test_a_count_question_gets_the_exact_figure_with_its_cited_passage(report_assistant):
    answer = report_assistant.ask("杭州有多少个产业集群？")
    assert answer.answerable
    assert "124" in answer.answer and "[1]" in answer.answer
    assert len(answer.answer) <= 150
    first = answer.citations[0]
    assert "杭州 124 个，年产值 3380 亿元" in first.text
    assert first.section == CITY_SECTION
    start, end = first.highlights[0]
    assert "124" in first.text[start:end]


def test_every_answer_reports_at_least_five_ranked_passages_and_timings(report_assistant):
    answer = report_assistant.ask("义乌中国小商品城汇集了多少种商品？")
    assert len(answer.retrieved) >= 5
    scores = [p.score for p in answer.retrieved]
    assert scores == sorted(scores, reverse=True)
    assert {"retrieve", "answer", "total"} <= set(answer.timings_ms)


def test_traditional_characters_reach_the_same_passage(report_assistant):
    answer = report_assistant.ask("杭州有多少個產業集群？")
    assert "124" in compact(answer.answer)


def test_a_follow_up_uses_the_previous_turn(report_assistant):
    answer = report_assistant.ask("那温州呢？", history=[("绍兴有多少个产业集群？", "绍兴 58 个，年产值 2647 亿元。")])
    assert "温州" in answer.standalone_question
    assert "73" in answer.answer


def test_a_question_about_another_province_is_declined(report_assistant):
    # (provinces the report names in passing, 山东 and 江苏, the rules alone cannot tell: the learned
    # decliner can, tests/test_learned_answers.py)
    answer = report_assistant.ask("四川省有多少个产业集群？")
    assert not answer.answerable
    assert not answer.citations


def test_a_measure_the_report_never_gives_is_declined_even_when_the_subject_matches(report_assistant):
    answer = report_assistant.ask("义乌小商品城的占地面积是多少？")
    assert not answer.answerable


def test_an_unknown_measure_is_read_by_its_known_parts_and_declined_when_the_report_gives_none(report_assistant):
    # the report names 工业利润 but gives no profit rate; 「利润率」 itself never occurs
    assert not report_assistant.ask("全省工业的利润率是多少？").answerable
    growth = report_assistant.ask("规上工业企业固定资产净值年均增长率是多少？")
    assert growth.answerable and "13.3%" in growth.answer


def test_a_founding_date_or_an_outcome_the_report_never_states_is_declined(report_assistant):
    founded = report_assistant.ask("义乌中国小商品城是哪一年建成的？")  # the report gives its size, not its age
    assert not founded.answerable
    outcome = report_assistant.ask("2010年全省电力供需平衡了没有？")  # the report sets it as an aim
    assert not outcome.answerable and "目标" in outcome.answer


def test_a_quoted_term_must_be_in_the_answering_passage(report_assistant, report_index):
    from assistant.answer.query import analyse

    assert analyse('<img onerror="x=1">杭州有多少个产业集群?', report_index).anchors == {"杭州"}  # code names nothing
    unknown = report_assistant.ask("报告对“双碳目标”是怎么说的？")
    assert not unknown.answerable and "「双碳目标」" in unknown.answer
    known = report_assistant.ask("“一乡一品”后来发展成了什么？")
    assert known.answerable and "一乡一品" in known.citations[0].text


def test_a_count_of_something_the_report_never_mentions_is_declined_by_name(report_assistant, report_index):
    from assistant.answer.query import analyse

    assert analyse("万向集团2007年利润是多少?", report_index).measures == ("利润",)
    assert "停车位" in analyse("义乌小商品城有多少个停车位?", report_index).anchors
    parking = report_assistant.ask("义乌小商品城有多少个停车位？")
    assert not parking.answerable and "「停车位」" in parking.answer


def test_a_numbered_item_of_the_outline_is_answered_by_its_heading_and_opening(report_assistant):
    answer = report_assistant.ask("我省产业集群存在的主要问题，第三条是什么？")
    assert answer.answer.startswith("3、我省产业集群优势主要是低成本优势：")
    assert answer.citations[0].section.endswith("3、我省产业集群优势主要是低成本优势")


def test_a_question_for_a_section_s_items_lists_its_sub_sections(report_assistant):
    answer = report_assistant.ask("我省产业集群存在哪些主要问题？")
    assert "产业集群地域发展不均衡" in answer.answer and "企业中高层次人才资源严重缺失" in answer.answer
    assert len(answer.answer) <= 400 and answer.citations[0].section.endswith("（二）存在的主要问题")
    # the section the question names leads retrieval when its words alone would not find it
    advice = report_assistant.ask("报告提出了哪些对策建议？")
    assert advice.answer.startswith("二、发展趋势分析及对策建议：（一）继续推动传统产业集群转型升级；")
    traits = report_assistant.ask("浙江产业集群有哪些特点？")
    assert traits.retrieved[0].section.endswith("2、产业集群的特点") and "2.6 要素集约化发展" in traits.answer


def test_a_year_the_report_never_covers_is_declined(report_assistant):
    assert not report_assistant.ask("2020年浙江有多少个产业集群？").answerable
