"""Names: real places and people are names; common words jieba tags as names are not."""

import pytest

from assistant.answer.names import is_person, is_place


@pytest.mark.parametrize("word", ["江苏", "江苏省", "苏州", "苏州市", "晋江", "广西", "日本", "东南亚", "某某县"])
def test_real_places_are_places(word):
    assert is_place(word)


@pytest.mark.parametrize("word", ["扎堆", "大都", "东西", "英雄", "压根", "城市", "沿海地区"])
def test_common_words_jieba_tags_as_places_are_not(word):
    assert not is_place(word)


def test_a_person_starts_with_a_surname_and_is_not_a_common_word():
    assert is_person("马云", 0) and is_person("鲁冠球", 23)
    assert not is_person("比一比", 0) and not is_person("林子", 420)
