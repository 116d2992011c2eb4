"""Follow-ups become standalone questions using the previous turn, without a language model."""

import pytest

from assistant.answer.conversation import condense, is_follow_up


@pytest.fixture(scope="module")
def tokenizer(report_index):
    return report_index.tokenizer


def test_a_question_without_history_is_unchanged(tokenizer):
    assert condense("杭州有多少个产业集群?", [], tokenizer) == "杭州有多少个产业集群?"


def test_a_new_subject_replaces_the_old_one_in_the_previous_question(tokenizer):
    history = [("绍兴有多少个产业集群？", "绍兴 58 个。")]
    assert condense("那温州呢?", history, tokenizer) == "温州有多少个产业集群?"


def test_a_bare_subject_of_the_same_kind_replaces_its_counterpart():
    from assistant.index.tokenize import Tokenizer

    tokenizer = Tokenizer(["东海产业带", "西山产业带", "产业集群"])
    history = [("东海产业带有多少个产业集群？", "东海产业带有 335 个。")]
    assert condense("西山产业带呢?", history, tokenizer) == "西山产业带有多少个产业集群?"


def test_a_pronoun_takes_the_previous_subject_and_its_topic(tokenizer):
    history = [("杭州有多少个产业集群？", "杭州 124 个。")]
    standalone = condense("它的产值呢?", history, tokenizer)
    assert "杭州" in standalone and "产值" in standalone and "它" not in standalone


def test_follow_ups_chain_through_several_turns(tokenizer):
    history = [("绍兴有多少个产业集群？", "58 个。"), ("那温州呢？", "73 个。")]
    assert "温州" in condense("它的产值呢?", history, tokenizer)


def test_a_follow_up_with_its_own_predicate_keeps_the_scope_not_the_old_predicate(tokenizer):
    history = [("年产值超10亿元的集群有多少建了行业协会？", "95%以上。")]
    standalone = condense("那制订了地方行业标准的集群占多少?", history, tokenizer)
    assert "10" in standalone and "年产值" in standalone and "制订" in standalone
    assert "行业协会" not in standalone


def test_a_full_new_question_ignores_the_history(tokenizer):
    history = [("绍兴有多少个产业集群？", "58 个。")]
    question = "义乌中国小商品城汇集了多少种商品?"
    assert not is_follow_up(question)
    assert condense(question, history, tokenizer) == question


def test_a_bare_phase_replaces_the_phase_the_previous_question_asked_about(tokenizer):
    history = [("起步阶段的产业集群，政策的主要目标是什么？", "培育商业环境。")]
    assert condense("那到了成熟期呢?", history, tokenizer) == "成熟期的产业集群,政策的主要目标是什么?"


def test_a_bare_item_number_replaces_the_item_the_previous_question_asked_for(tokenizer):
    history = [("存在的主要问题，第一条是啥？", "产业集群地域发展不均衡。")]
    assert condense("第三条呢?", history, tokenizer) == "存在的主要问题,第三条是啥?"


def test_a_follow_up_does_not_carry_the_previous_question_words(tokenizer):
    history = [("集群里建立网络关系有几条路子？", "两条。")]
    standalone = condense("第二条展开说说?", history, tokenizer)
    assert "网络" in standalone and "几条" not in standalone


@pytest.mark.parametrize("follow_up", ["那宁波那边呢？", "宁波那儿呢", "宁波这边呢？"])
def test_a_place_word_after_a_name_means_the_name(tokenizer, follow_up):
    history = [("绍兴有多少个产业集群？", "绍兴 58 个。")]
    assert condense(follow_up, history, tokenizer) == "宁波有多少个产业集群?"


def test_a_place_word_standing_alone_points_back_like_a_pronoun(tokenizer):
    standalone = condense("那边产值多少？", [("绍兴有多少个产业集群？", "绍兴 58 个。")], tokenizer)
    assert standalone.startswith("绍兴产值") and "边" not in standalone


def test_a_follow_up_naming_its_own_subject_drops_the_old_one(tokenizer):
    standalone = condense("宁波那边的产值呢？", [("绍兴有多少个产业集群？", "绍兴 58 个。")], tokenizer)
    assert "宁波" in standalone and "产值" in standalone and "绍兴" not in standalone


def test_an_aspect_word_does_not_make_a_full_question_a_follow_up(tokenizer):
    history = [("绍兴有多少个产业集群？", "绍兴 58 个。")]
    assert condense("企业品牌这块最大的毛病是啥？", history, tokenizer) == "企业品牌这块最大的毛病是啥？"
    assert condense("绍兴那边集群一年产值有多少？", history, tokenizer) == "绍兴那边集群一年产值有多少？"


def test_a_short_name_replaces_the_word_the_corpus_uses_in_its_place():
    from assistant.index.tokenize import Tokenizer

    tokenizer = Tokenizer(["环湖产业带", "山区产业带", "产业集群"])  # (not names jieba knows, as 温台 and 金衢丽 are not)
    history = [("环湖那条带有多少个产业集群？", "335 个。")]
    assert condense("山区那边呢？", history, tokenizer) == "山区那条带有多少个产业集群?"
    assert condense("那山区呢？", [("环湖产业带有多少个产业集群？", "335 个。")], tokenizer) == "山区产业带有多少个产业集群?"
