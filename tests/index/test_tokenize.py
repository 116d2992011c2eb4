"""Segmentation: each corpus's vocabulary, one shared copy of jieba's dictionary."""

from assistant.index.tokenize import Tokenizer, tokenizer_for


def test_each_tokenizer_keeps_its_own_corpus_vocabulary():
    with_belt = Tokenizer(["金衢丽产业带"])
    without = Tokenizer(["台资企业"])
    assert "金衢丽产业带" in with_belt.tokens("金衢丽产业带的企业")
    assert "金衢丽产业带" not in without.tokens("金衢丽产业带的企业")
    assert with_belt.knows("金衢丽产业带") and not without.knows("金衢丽产业带")
    assert ("台资企业", "n") in without.tagged("来浙江投资的台资企业")


def test_jieba_words_and_tags_are_there_without_a_user_vocabulary():
    plain = Tokenizer()
    assert plain.knows("广东省")
    assert dict(plain.tagged("广东省的工业"))["广东省"] == "ns"


def test_the_same_vocabulary_gets_the_same_tokenizer():
    assert tokenizer_for(("台资企业",)) is tokenizer_for(("台资企业",))
    assert tokenizer_for(("台资企业",)) is not tokenizer_for(("金衢丽产业带",))


def test_corpus_terms_are_coined_compounds_never_phrases_across_a_de():
    from assistant.index.lexicon import corpus_terms

    terms = corpus_terms(["处于起步阶段的产业集群，温台产业带的“一乡一品”。"])
    assert "温台产业带" in terms and "一乡一品" in terms
    assert not [t for t in terms if "的" in t]
