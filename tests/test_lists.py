"""Lists in the essays: the item markers, 一是……五是 runs, lead-phrase paragraphs and sibling lead-sentence sections
(as chunks for retrieval and as sentences for the answer layer), and how a list question's hits are regrouped."""

from __future__ import annotations

import pytest
from retrieval_fixtures import SEED_PAGE

from rag.chunking import index_records
from rag.config import Settings
from rag.corpus import load_corpus
from rag.lists import (
    LAST,
    ListPassages,
    group_hits,
    is_list_question,
    opening_ordinal,
    ordinals,
    passage_groups,
    strip_ordinal,
)
from rag.sentences import SentenceIndex
from rag.types import Chunk, Essay, Section

DEFAULTS = Settings.from_env({"POLICY_QA_HOME": "/nonexistent"})


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return index_records(load_corpus([SEED_PAGE]), DEFAULTS.chunk_size, DEFAULTS.chunk_overlap)


def _groups(chunks: list[Chunk], author: str) -> list[ListPassages]:
    rows = sorted((i for i, c in enumerate(chunks) if c.author == author and not c.is_byline),
                  key=lambda i: chunks[i].char_start)
    return passage_groups(chunks, rows)


def _text(chunks: list[Chunk], g: ListPassages) -> str:
    return "".join(chunks[i].text for i in g.items)


def test_ordinals() -> None:
    assert ordinals("要做好三件事。一是加强研究。二是完善机制；三是扩大开放。") == [1, 2, 3]
    assert ordinals("首先，要明确方向。其次，要整合资源。最后，要加强评估。") == [1, 2, LAST]
    assert ordinals("这是第一生产力，不是列表。") == []


def test_one_marker_vocabulary_for_sentences_and_clauses() -> None:
    for text, n in (("一是加强研究。", 1), ("第二，完善机制。", 2), ("第三是扩大开放。", 3), ("其次，整合资源。", 2),
                    ("最后，加强评估。", LAST), ("这是第一生产力。", 0), ("首先要明确方向。", 0)):
        assert opening_ordinal(text) == n, text
        assert ordinals(text) == ([n] if n else []), text
    assert strip_ordinal("第二，完善机制。") == "完善机制。" and strip_ordinal("最后，加强评估。") == "加强评估。"


def test_the_answer_layer_keeps_a_last_item_as_retrieval_does() -> None:
    text = "推进改革要做好三件事。首先，要明确方向。其次，要整合资源。最后，要加强评估。"
    index = SentenceIndex([Essay("e", "标题", "作者", "", "e.txt", (Section("引言", (text,)),))])
    [g] = index.groups
    assert g.intro is not None and g.intro.text == "推进改革要做好三件事。"
    assert [item[0].text for item in g.items] == ["首先，要明确方向。", "其次，要整合资源。", "最后，要加强评估。"]


def test_an_enumeration_inside_paragraphs_is_one_list_in_order(chunks: list[Chunk]) -> None:
    [five] = [g for g in _groups(chunks, "王成仁") if "五是推进开放合作创新" in _text(chunks, g)]
    text = _text(chunks, five)
    marks = [text.find(f"{n}是") for n in "一二三四五"]
    assert all(m >= 0 for m in marks) and marks == sorted(marks)


def test_sibling_sections_with_lead_sentences_are_a_list(chunks: list[Chunk]) -> None:
    [g] = _groups(chunks, "王静")
    assert [chunks[i].section for i in g.items] == [
        "注重要素协同，打造产业创新生态体系", "以数字化为牵引，助力产业转型升级", "强化安全协同，推动产业开放发展"]
    assert g.intro is not None and chunks[g.intro].section == "引言"


def test_paragraphs_opened_by_a_short_lead_phrase_are_a_list(chunks: list[Chunk]) -> None:
    [g] = [g for g in _groups(chunks, "李晓华") if len(g.items) == 5]
    assert [chunks[i].text[:6] for i in g.items] == ["科技水平高。", "生产效率优。", "经济效益好。", "产业韧性强。", "生态破坏少。"]
    assert g.intro is not None and "具体表现出科技水平高" in chunks[g.intro].text


def test_list_questions() -> None:
    for q in ("实现高水平科技自立自强有哪些举措？", "构建现代化产业体系要从哪几方面入手？", "新型工业化有五个特征，分别是什么？",
              "What are the main measures?"):
        assert is_list_question(q), q
    for q in ("什么是产业韧性？", "中小银行应该怎么监管？"):
        assert not is_list_question(q), q


def test_group_hits_keeps_the_best_hit_and_puts_the_list_after_it_in_order() -> None:
    g = ListPassages("e", intro=10, items=(11, 12, 13))
    groups = {m: [g] for m in g.members}
    # the best hit is item 12; item 11 and the intro are further down, item 13 was not retrieved
    assert group_hits([12, 5, 10, 11, 6], lambda i: groups.get(i, []), 6) == [12, 10, 11, 13, 5, 6]
    # the list starts at its best-ranked member's place
    assert group_hits([5, 11, 12, 6], lambda i: groups.get(i, []), 6) == [5, 11, 12, 13, 6]
    # one member alone in the top 10 is a fact inside one item, not the list
    assert group_hits([5, 11, 6, 7], lambda i: groups.get(i, []), 4) == [5, 11, 6, 7]
    # nothing in the top 3 belongs to a list: unchanged
    assert group_hits([1, 2, 3, 11, 12], lambda i: groups.get(i, []), 5) == [1, 2, 3, 11, 12]


def test_inline_items_joined_by_and_are_three_items() -> None:
    from rag.items import inline_parts

    assert inline_parts("质量体现在工业化全过程、产业体系全领域和生产活动全周期。") == \
        ["工业化全过程", "产业体系全领域", "生产活动全周期"]
    assert inline_parts("从创新人才、创新平台载体、创新生态环境等方面发力。") == ["创新人才", "创新平台载体", "创新生态环境"]
    assert inline_parts("推动工业和服务业融合发展。") == []  # two things, no list
