"""Incremental indexing: added, changed and removed files are applied without re-reading,
re-tokenising or re-embedding the rest, into a new build that is switched to atomically."""

from __future__ import annotations

import json

import pytest

from assistant.answer.chain import Assistant
from assistant.index.build import build_index
from assistant.index.embeddings import HashingEmbeddings
from assistant.index.loaded import LoadedIndex
from assistant.index.manifest import current_build, read_manifest
from assistant.index.plan import plan_changes
from assistant.index.tokenize import Tokenizer
import assistant.index.build as build_module
from conftest import make_settings

CITIES = ["杭州", "宁波", "温州", "台州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "丽水", "义乌"]
# twelve two-section reports: big enough that one update stays under the refit share
REPORTS = {
    f"city-{i:02d}.md": f"# {city}报告\n\n## 一、现状\n\n{city}有产业集群 {20 + i} 个，企业 {300 + 7 * i} 家。\n\n"
    f"## 二、对策\n\n{city}要培育第 {i + 1} 批区域品牌。\n"
    for i, city in enumerate(CITIES)
}


@pytest.fixture()
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in REPORTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


class Counting:
    """Counts what a build embeds and tokenises, by wrapping the real methods."""

    def __init__(self, monkeypatch) -> None:
        self.embedded: list[str] = []
        self.tokenised: list[str] = []
        matrix, tokens = HashingEmbeddings.matrix, Tokenizer.tokens

        def counted_matrix(emb, texts):
            self.embedded.extend(texts)
            return matrix(emb, texts)

        def counted_tokens(tok, text):
            self.tokenised.append(text)
            return tokens(tok, text)

        monkeypatch.setattr(HashingEmbeddings, "matrix", counted_matrix)
        monkeypatch.setattr(Tokenizer, "tokens", counted_tokens)

    def reset(self) -> None:
        self.embedded.clear()
        self.tokenised.clear()


def _stored(build) -> tuple[list[dict], list[list[str]]]:
    chunks = [json.loads(line) for line in (build / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    tokens = [json.loads(line) for line in (build / "tokens.jsonl").read_text(encoding="utf-8").splitlines()]
    return chunks, tokens


def test_an_update_embeds_and_tokenises_only_added_and_changed_files(tmp_path, corpus, monkeypatch):
    settings = make_settings(tmp_path, corpus, chroma_host=None)
    first = build_index(settings).manifest
    counts = Counting(monkeypatch)
    (corpus / "city-01.md").write_text(REPORTS["city-01.md"].replace("21 个", "99 个"), encoding="utf-8")
    (corpus / "city-02.md").unlink()
    (corpus / "new.md").write_text("# 新报告\n\n## 一、现状\n\n龙泉有青瓷宝剑集群。\n", encoding="utf-8")
    assert plan_changes(settings, first, current_build(settings.persist_dir), {"x.md": "0"}).full is False

    second = build_index(settings).manifest
    index = LoadedIndex.open(settings)
    new_chunks = [c for c in index.chunks if c.source in {"city-01.md", "new.md"}]
    assert sorted(counts.embedded) == sorted(c.heading_text for c in new_chunks)
    assert sorted(counts.tokenised) == sorted(c.heading_text for c in new_chunks)
    assert set(second.documents) == set(REPORTS) - {"city-02.md"} | {"new.md"}
    assert second.fitted_chunks == first.fitted_chunks and second.updated_chunks > 0
    assert second.embedding == first.embedding
    # the new build answers, the previous one is kept for readers, and vectors match chunks
    assert current_build(settings.persist_dir).name == second.build_id != first.build_id
    assert {p.name for p in (settings.persist_dir / "builds").iterdir()} == {first.build_id, second.build_id}
    assert index.store._collection.count() == len(index.chunks) == second.chunks
    answers = Assistant(settings, index)
    assert "99" in answers.ask("宁波有多少个产业集群？").answer
    assert "青瓷" in answers.ask("龙泉有什么产业集群？").answer
    assert all(c.source != "city-02.md" for c in index.chunks)


def test_an_update_stores_the_same_chunks_and_tokens_as_a_full_build(tmp_path, corpus):
    settings = make_settings(tmp_path, corpus)
    build_index(settings)
    (corpus / "city-00.md").write_text(REPORTS["city-00.md"].replace("20 个", "125 个"), encoding="utf-8")
    (corpus / "new.md").write_text("# 新报告\n\n## 一、现状\n\n永康有五金集群。\n", encoding="utf-8")
    updated = build_index(settings).manifest
    full_settings = make_settings(tmp_path / "full", corpus)
    full = build_index(full_settings).manifest
    assert updated.updated_chunks > 0 and full.updated_chunks == 0
    assert _stored(current_build(settings.persist_dir)) == _stored(current_build(full_settings.persist_dir))
    assert updated.documents == full.documents
    question = "杭州有多少个产业集群？"
    assert Assistant(settings).ask(question).answer == Assistant(full_settings).ask(question).answer


def test_an_unchanged_corpus_is_skipped_and_rebuild_is_always_full(tmp_path, corpus, monkeypatch):
    settings = make_settings(tmp_path, corpus)
    first = build_index(settings).manifest
    assert build_index(settings).skipped
    counts = Counting(monkeypatch)
    rebuilt = build_index(settings, rebuild=True).manifest
    assert rebuilt.build_id != first.build_id and rebuilt.updated_chunks == 0
    assert len(counts.embedded) == len(counts.tokenised) == rebuilt.chunks == first.chunks


def test_many_updates_trigger_a_full_build_that_refits(tmp_path, corpus):
    settings = make_settings(tmp_path, corpus)
    first = build_index(settings).manifest
    updated = first
    for round_ in range(1, 10):
        (corpus / "city-03.md").write_text(REPORTS["city-03.md"] + f"\n第{round_}次修订。\n", encoding="utf-8")
        updated = build_index(settings).manifest
        if updated.updated_chunks == 0:
            break
    assert updated.updated_chunks == 0 and updated.fitted_chunks == updated.chunks
    assert 1 < round_ < 9  # some updates first, then a refit once they pass half of the fitted chunks


def test_settings_that_change_chunks_or_vectors_force_a_full_build(tmp_path, corpus):
    settings = make_settings(tmp_path, corpus)
    first = build_index(settings).manifest
    build = current_build(settings.persist_dir)
    digests = {n: d.sha256 for n, d in first.documents.items()}
    assert plan_changes(settings, first, build, digests).nothing_to_do
    for change, reason in [
        ({"chunk_tokens": 100}, "chunk size"),
        ({"hashing_dim": 512}, "embedding"),
        ({"chroma_host": "127.0.0.1"}, "vectors move"),
    ]:
        plan = plan_changes(settings.model_copy(update=change), first, build, digests)
        assert plan.full and reason in plan.reason
    (build / "tokens.jsonl").unlink()
    assert plan_changes(settings, first, build, digests).full


def test_a_failed_update_leaves_the_previous_build_answering(tmp_path, corpus, monkeypatch):
    settings = make_settings(tmp_path, corpus)
    first = build_index(settings).manifest
    (corpus / "new.md").write_text("# 新报告\n\n## 一、现状\n\n永康有五金集群。\n", encoding="utf-8")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_module, "copy_vectors", broken)
    with pytest.raises(RuntimeError):
        build_index(settings)
    assert read_manifest(settings.persist_dir).build_id == first.build_id
    assert [p.name for p in (settings.persist_dir / "builds").iterdir()] == [first.build_id]
