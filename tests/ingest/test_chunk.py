"""Chunking: whole sentences, inside one section, token-budgeted, with stable ids and offsets."""

import pytest

from assistant.ingest.chunk import PATH_SEPARATOR, chunk_document, chunk_outline, count_tokens
from assistant.ingest.clean import paragraphs
from assistant.ingest.corpus import SourceDocument
from assistant.ingest.normalize import compact
from assistant.ingest.outline import recover_outline
from assistant.ingest.sentences import sentence_spans

NAME = "report.md"


@pytest.fixture(scope="module")
def report_chunks(report_text):
    return chunk_document(SourceDocument(NAME, report_text, "x"), max_tokens=320)


def test_no_chunk_crosses_a_section(report_chunks):
    outline, chunks = report_chunks
    for chunk in chunks:
        section = next(s for s in outline.sections if PATH_SEPARATOR.join(s.path) == chunk.section)
        body = "\n".join(p.text for p in section.paragraphs)
        for line in chunk.text.split("\n"):
            assert line in body


def test_no_sentence_is_cut(report_chunks, report_text):
    outline, chunks = report_chunks
    for section in outline.sections:
        path = PATH_SEPARATOR.join(section.path)
        texts = [c.text for c in chunks if c.section == path]
        for paragraph in section.paragraphs:
            for start, end in sentence_spans(paragraph.text):
                sentence = paragraph.text[start:end]
                assert any(sentence in t for t in texts), sentence


def test_chunks_respect_the_token_budget_unless_one_sentence_is_longer(report_chunks):
    _, chunks = report_chunks
    for chunk in chunks:
        if count_tokens(chunk.text) > 320:
            assert len(sentence_spans(chunk.text.replace("\n", ""))) == 1


def test_every_chunk_carries_its_section_path_source_and_offsets(report_chunks, report_text):
    _, chunks = report_chunks
    city = next(c for c in chunks if "杭州 124 个" in c.text)
    assert city.section == "一、产业集群现状 › （一）我省产业集群发展回顾 › 1、产业集群的形成与分布"
    assert city.source == NAME and city.title == "浙江省产业集群调研报告"
    for chunk in chunks:
        original = report_text[chunk.start : chunk.end]
        assert compact(chunk.text.replace("\n", "")) == compact(original.replace("**", ""))


def test_chunk_ids_are_content_hashes_stable_across_runs(report_text, report_chunks):
    _, again = chunk_document(SourceDocument(NAME, report_text, "x"), max_tokens=320)
    _, first = report_chunks
    assert [c.chunk_id for c in again] == [c.chunk_id for c in first]
    assert len({c.chunk_id for c in first}) == len(first)


def test_a_small_budget_splits_a_section_at_sentence_boundaries():
    text = "# 文档\n\n## 一、总论\n\n" + "这是一个完整的句子，用来测试切分。" * 12 + "\n"
    outline = recover_outline(paragraphs(text), "x")
    from assistant.ingest.chunk import chunk_outline

    chunks = chunk_outline(outline, "t.md", max_tokens=40)
    assert len(chunks) > 1
    assert all(c.text.endswith("。") for c in chunks)
    assert "".join(c.text for c in chunks) == outline.sections[1].paragraphs[0].text


def test_a_paragraph_split_across_chunks_repeats_its_short_lead_in():
    lead = "各市的数量差别较大。"
    listing = "；".join(f"城市{i} {i} 个，年产值 {i * 10} 亿元" for i in range(1, 6)) + "。"
    outline = recover_outline(paragraphs(f"# 文档\n\n## 一、总论\n\n{'前面的句子很长。' * 20}{lead}{listing}\n"), "x")
    budget = count_tokens(lead + listing) + 4  # room for the list and its lead-in, not for what came before

    chunks = chunk_outline(outline, "t.md", max_tokens=budget)
    assert len(chunks) > 1
    holder = next(c for c in chunks if "城市1 1 个" in c.text)
    assert holder.text.startswith(lead)
