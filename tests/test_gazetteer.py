"""Places: China's administrative areas and other countries are places; common words jieba
tags as places are not."""

import pytest

from assistant.gazetteer import is_place


@pytest.mark.parametrize("word", ["江苏", "江苏省", "苏州", "苏州市", "晋江", "广西", "日本", "东南亚", "某某县"])
def test_real_places_are_places(word):
    assert is_place(word)


@pytest.mark.parametrize("word", ["扎堆", "大都", "东西", "英雄", "压根", "城市"])
def test_common_words_jieba_tags_as_places_are_not(word):
    assert not is_place(word)
