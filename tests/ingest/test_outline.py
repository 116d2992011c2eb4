"""Outline recovery: depth comes from the numbering, not from the markdown."""

import pytest

from assistant.ingest.clean import paragraphs
from assistant.ingest.outline import asked_item, heading_number, recover_outline

# The recovered outline of the report, checked by hand against the source:
# (depth, heading, parent heading)
ROOT = "浙江省产业集群调研报告"
P1 = "一、产业集群现状"
P1_1 = "（一）我省产业集群发展回顾"
P1_1_2 = "2、产业集群的特点"
P1_2 = "（二）存在的主要问题"
P2 = "二、发展趋势分析及对策建议"
P2_1 = "（一）继续推动传统产业集群转型升级"
P2_2 = "（二）发展新兴产业集群"
P2_4 = "（四）以循环经济理念改造浙江产业集群"
P2_6 = "（六）进一步提高产业集群自主创新能力，打造全国乃至世界先进制造业中心"
P2_6_2 = "2、大力培育具有国际竞争力的产业集群龙头"
P2_6_3 = "3、充分明确创新方向与创新定位"
P2_6_4 = "4、合理技术投资、合情管理创新"
P2_7 = "（七）大力增强产业集群产业竞争力"
P2_8 = "（八）进一步加大公共服务平台建设力度"
P2_8_3 = "3、充分发挥行业协会的独特作用"
P2_9 = "（九）进一步优化产业集群发展环境"
P2_10 = "（十）完善政府引导机制，建立产业集群发展推进制度"

EXPECTED = [
    (1, P1, ROOT),
    (2, P1_1, P1),
    (3, "1、产业集群的形成与分布", P1_1),
    (3, P1_1_2, P1_1),
    (4, "2.1 不同产业形态的融合发展", P1_1_2),
    (4, "2.2 产业内容的多元化发展", P1_1_2),
    (4, "2.3 民间资本与外来资本共同发展", P1_1_2),
    (4, "2.4 制造业与专业市场协同发展", P1_1_2),
    (4, "2.5 公共资源共享发展", P1_1_2),
    (4, "2.6 要素集约化发展", P1_1_2),
    (2, P1_2, P1),
    (3, "1. 产业集群地域发展不均衡", P1_2),
    (3, "2、我省产业集群的载体主要在小城镇", P1_2),
    (3, "3、我省产业集群优势主要是低成本优势", P1_2),
    (3, "4、部分产业集群带来的生态问题", P1_2),
    (3, "5、企业自主创新环节薄弱", P1_2),
    (3, "6、国际化知名品牌及区域品牌匮乏", P1_2),
    (3, "7、龙头企业的带动作用不明显", P1_2),
    (3, "8、企业中高层次人才资源严重缺失", P1_2),
    (3, "9、地区间的竞争压力日益加剧，一是要素资源紧缺的压力将长期存在", P1_2),
    (1, P2, ROOT),
    (2, P2_1, P2),
    (3, "1、加大资本运作，整合国内外资源", P2_1),
    (3, "2、不断深化改革，创新发展模式", P2_1),
    (3, "3、价值链、产业链全球整合", P2_1),
    (3, "5、保持继续领先技术优势", P2_1),
    (3, "5、确保稳定可控的资源优势", P2_1),
    (3, "7、拓展资源共享的网络优势", P2_1),
    (3, "8、强化行业定价优势", P2_1),
    (2, P2_2, P2),
    (3, "1、大力发展战略性新兴产业", P2_2),
    (3, "2、积极打造区域特色金融产业集群", P2_2),
    (3, "3、发展网上专业市场平台", P2_2),
    (2, "（三）重点构建生产性服务业高地", P2),
    (2, P2_4, P2),
    (3, "1、在企业内部实行清洁生产", P2_4),
    (3, "2、通过绿色招商“补链”", P2_4),
    (3, "3、制度创新以降低成本", P2_4),
    (3, "4、加大环境基础设施建设", P2_4),
    (3, "5、明确政府“第三方”功能", P2_4),
    (2, "（五）进一步融合跨区域式发展，建立大区域品牌", P2),
    (2, P2_6, P2),
    (3, "1、整合一切可以整合的资源", P2_6),
    (3, P2_6_2, P2_6),
    (4, "2.1 借助国际资源，实现本地产业的整合、创新", P2_6_2),
    (4, "2.2 推进产业带中不同产业集群和产业的整合与创新", P2_6_2),
    (4, "2.3 依托城市带和都市圈，促进产业向大中城市周边地区聚集", P2_6_2),
    (4, "2.4 促进产业向地理条件比较优越地区积聚", P2_6_2),
    (3, P2_6_3, P2_6),
    (4, "3.1 促使集群的创新系统从“草根型”向“组织创新型”转变", P2_6_3),
    (4, "3.2 通过组织再造，实现集群资源的整合与创新", P2_6_3),
    (4, "3.3 培育集群技术创新主体", P2_6_3),
    (3, P2_6_4, P2_6),
    (4, "4.1 用高新技术改造传统的生产方式", P2_6_4),
    (4, "4.2 在高新技术领域实现技术突破", P2_6_4),
    (4, "4.3 企业组织管理模式的创新", P2_6_4),
    (2, P2_7, P2),
    (3, "1、提高产业整体竞争能力", P2_7),
    (3, "2、加强企业间有效合作", P2_7),
    (2, P2_8, P2),
    (3, "1、加快行业或区域性创新服务平台建设", P2_8),
    (3, "2、推动自主创新中介服务体系建设", P2_8),
    (3, P2_8_3, P2_8),
    (4, "3.1 组织有关专家学者与业内人士", P2_8_3),
    (4, "3.2 充分发挥行业协会在产业集群中的重要作用", P2_8_3),
    (4, "3.3 组织核心企业", P2_8_3),
    (2, P2_9, P2),
    (3, "1、强化支撑硬环境", P2_9),
    (3, "2、营造高效廉洁的政务环境", P2_9),
    (3, "3、营造良好的政策环境", P2_9),
    (3, "4、营造公正文明的法制环境", P2_9),
    (3, "5、营造竞争有序的市场环境", P2_9),
    (3, "6、营造优质的社会服务体系", P2_9),
    (2, P2_10, P2),
    (3, "1、深入研究产业集群的发展规律", P2_10),
    (3, "2、开展产业集群发展的专项规划编制工作", P2_10),
    (3, "3、完善公共政策支持体系", P2_10),
    (3, "4、研究建立产业集群统计方法体系", P2_10),
    (3, "5、加大对产业集群专业协会的扶持", P2_10),
]


def test_the_report_outline_is_recovered_exactly(report_text):
    outline = recover_outline(paragraphs(report_text), "fallback")
    assert outline.title == ROOT
    assert outline.headings() == EXPECTED


def test_every_section_of_the_report_keeps_its_body_text(report_text):
    outline = recover_outline(paragraphs(report_text), "fallback")
    empty = [s.title for s in outline.sections if not s.paragraphs]
    # only headings whose text is entirely in numbered sub-sections have no body of their own
    assert empty == [P1_1, P2_6_2, P2_6_3, P2_6_4, P2_8, P2_8_3]


def test_depth_follows_numbering_even_when_markdown_levels_disagree():
    source = "# 报告\n\n#### 一、总论\n\n# （一）分论\n\n## 1、要点\n\n#### 1.1 细节\n\n正文。\n"
    outline = recover_outline(paragraphs(source), "x")
    assert outline.headings() == [
        (1, "一、总论", "报告"),
        (2, "（一）分论", "一、总论"),
        (3, "1、要点", "（一）分论"),
        (4, "1.1 细节", "1、要点"),
    ]


def test_bare_and_bold_lines_become_headings_and_lead_ins_become_sections():
    source = (
        "(八)加大平台建设力度 (几个平台？)\n\n"
        "**3.1 培育创新主体。** 正文一。\n\n"
        "1、在企业内部实行清洁生产。清洁生产是一种战略。\n"
    )
    outline = recover_outline(paragraphs(source), "文档")
    assert outline.headings() == [
        (2, "（八）加大平台建设力度", "文档"),
        (4, "3.1 培育创新主体", "（八）加大平台建设力度"),
        (3, "1、在企业内部实行清洁生产", "（八）加大平台建设力度"),
    ]
    lead = outline.sections[2]
    assert lead.paragraphs[0].text == "3.1 培育创新主体。 正文一。"


def test_a_document_without_headings_is_one_unstructured_section():
    outline = recover_outline(paragraphs("只有正文。\n\n还有一段。\n"), "笔记")
    assert not outline.structured
    assert outline.title == "笔记"
    assert len(outline.sections[0].paragraphs) == 2


@pytest.mark.parametrize(
    "title, number", [("3、我省产业集群优势", 3), ("1. 地域发展不均衡", 1), ("（四）以循环经济理念", 4), ("二、发展趋势", 2), ("2.3 民间资本", 3), ("结语", None)]
)
def test_a_heading_s_number_among_its_siblings(title, number):
    assert heading_number(title) == number


@pytest.mark.parametrize(
    "question, item",
    [("存在的问题第三条是啥", 3), ("第2点讲什么", 2), ("第二个问题是什么", 2), ("对策建议第四个方面", 4),
     ("第三个行业有多少个区块", None), ("浙江排全国第一", None), ("第三产业占多少", None)],
)
def test_which_numbered_item_a_question_asks_for(question, item):
    assert asked_item(question) == item


def test_the_marks_of_an_item_in_running_text():
    from assistant.ingest.outline import item_mark

    assert all(item_mark(2).search(t) for t in ["二是利润", "第二，利润", "其二，利润", "（2）利润", "②利润"])
    assert not item_mark(3).search("二是利润")
