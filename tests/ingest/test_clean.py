"""Cleaning: page breaks joined, markdown markers gone, every character traceable to the source."""

from assistant.ingest.clean import paragraphs


def test_a_sentence_split_by_a_page_break_is_joined():
    source = "目前全省拥有中国驰名商标186件，分居全\n\n国第一、第二位。\n"
    (para,) = paragraphs(source)
    assert para.text == "目前全省拥有中国驰名商标186件，分居全国第一、第二位。"


def test_a_finished_sentence_is_not_joined_to_the_next_paragraph():
    source = "第一段结束了。\n\n第二段开始。\n"
    assert [p.text for p in paragraphs(source)] == ["第一段结束了。", "第二段开始。"]


def test_a_heading_never_continues_a_broken_sentence():
    source = "我省一些产业集群在\n\n### （二）发展新兴产业集群\n\n正文。\n"
    assert [p.text for p in paragraphs(source)] == ["我省一些产业集群在", "（二）发展新兴产业集群", "正文。"]


def test_a_numbered_item_starts_a_new_paragraph_even_after_an_open_sentence():
    source = "完善的制度环境，\n\n2.1 借助国际资源。正文。\n"
    assert len(paragraphs(source)) == 2


def test_markdown_and_bold_markers_are_removed_but_recorded():
    (heading, lead) = paragraphs("## **7、龙头企业的带动作用不明显**\n\n**3.1 组织创新。**正文在此。\n")
    assert heading.text == "7、龙头企业的带动作用不明显"
    assert heading.md_level == 2 and heading.bold
    assert lead.text == "3.1 组织创新。正文在此。"
    assert lead.bold_lead == "3.1 组织创新。"


def test_offsets_point_back_to_the_original_characters(report_text):
    for para in paragraphs(report_text):
        assert len(para.offsets) == len(para.text)
        for char, offset in zip(para.text, para.offsets):
            assert report_text[offset] == char or (char == " " and report_text[offset] in "\n ")


def test_offsets_of_a_joined_paragraph_span_the_page_break(report_text):
    joined = next(p for p in paragraphs(report_text) if "分居全国第一" in p.text)
    original = report_text[joined.start : joined.end]
    assert "分居全\n\n国第一" in original
