"""The optional cross-encoder reranker, with a tiny model built in the test."""

import pytest

from assistant.answer.rerank import Reranker
from assistant.errors import UserError


def test_a_missing_reranker_model_is_a_clear_error():
    with pytest.raises(UserError, match="not on this machine"):
        Reranker("nobody/no-such-reranker")


def test_a_local_cross_encoder_reorders_the_candidates_it_scores(tmp_path, report_index):
    from support.tiny_models import build_cross_encoder

    model = build_cross_encoder(tmp_path / "ce", [c.heading_text for c in report_index.chunks[:20]])
    reranker = Reranker(str(model), top=5)
    candidates = [(chunk, 1.0 - i / 10, 0.0, 0.0) for i, chunk in enumerate(report_index.chunks[:8])]
    reranked = reranker.rerank("杭州有多少个产业集群？", candidates)
    head = [c[0].chunk_id for c in reranked[:5]]
    assert sorted(head) == sorted(c[0].chunk_id for c in candidates[:5])  # the same five, reordered by the model
    assert [c[0].chunk_id for c in reranked[5:]] == [c[0].chunk_id for c in candidates[5:]]
    scores = reranker.model.predict([("杭州有多少个产业集群？", c.heading_text) for c in (r[0] for r in reranked[:5])])
    assert list(scores) == sorted(scores, reverse=True)
