"""Retrieval over the seed index that reads the corpus structure: bylines, the authors, titles and sections a
question names, lists as units, English questions, and relevance that tells the truth under a filter."""

from __future__ import annotations

import re

from rag.chunking import chunk_corpus
from rag.retrieve import Retriever


def _essay(r: Retriever, author: str) -> str:
    return next(e.id for e in r.essays if e.author == author)


def test_each_essay_has_one_byline_record_and_passages_keep_their_ids(seed_retriever: Retriever, seed_settings) -> None:  # type: ignore[no-untyped-def]
    bylines = [c for c in seed_retriever.chunks if c.is_byline]
    assert sorted(c.author for c in bylines) == sorted(e.author for e in seed_retriever.essays)
    for c in bylines:
        assert c.kind == "byline" and c.title in c.text and c.author in c.text and c.affiliation in c.text
    passages = chunk_corpus(seed_retriever.essays, seed_settings.chunk_size, seed_settings.chunk_overlap)
    assert {c.id for c in seed_retriever.chunks if not c.is_byline} == {c.id for c in passages}
    assert max(len(c.text) for c in seed_retriever.chunks) <= 450


def test_an_affiliation_question_gets_the_byline_first(seed_retriever: Retriever) -> None:
    q = "王静在哪所大学任教？"
    hits = seed_retriever.search(q, k=5)
    assert hits[0].chunk.is_byline and "西北政法大学" in hits[0].chunk.text
    assert hits[0].chunk.label == "〔王静《全面提升产业体系现代化水平》·作者信息〕"
    assert seed_retriever.relevance(q, hits) >= 0.5
    who = seed_retriever.search("《创新驱动产业基础高级化》的作者是谁？", k=3)
    assert who[0].chunk.is_byline and who[0].chunk.author == "王成仁"


def test_a_topic_question_does_not_get_bylines_first(seed_retriever: Retriever) -> None:
    for q in ("中小银行应该怎么监管？", "全面提升产业体系现代化水平的主攻方向", "过去我国工业的效率主要来自哪里？"):
        assert not seed_retriever.search(q, k=3)[0].chunk.is_byline, q


def test_a_named_author_restricts_the_search(seed_retriever: Retriever) -> None:
    q = "王成仁的文章主要讲了什么？"
    hits = seed_retriever.search(q, k=5)
    assert {h.chunk.author for h in hits} == {"王成仁"}
    assert {h.chunk.author for h in seed_retriever.search(q, k=5, use_references=False)} != {"王成仁"}
    both = seed_retriever.search("李晓华和王成仁都谈到了自主创新，他们分别怎么说？", k=6)
    assert {h.chunk.author for h in both} == {"李晓华", "王成仁"}


def test_an_explicit_filter_wins_over_a_name_in_the_question(seed_retriever: Retriever) -> None:
    hits = seed_retriever.search("李晓华怎么看开放合作？", k=4, essay=_essay(seed_retriever, "王成仁"))
    assert hits and {h.chunk.author for h in hits} == {"王成仁"}


def test_a_name_that_matches_nothing_is_not_a_filter(seed_retriever: Retriever) -> None:
    hits = seed_retriever.search("张伟怎么看中小金融机构的监管？", k=5)
    assert "中小金融机构准入标准" in "".join(h.chunk.text for h in hits)
    assert seed_retriever.search("人才", author="鲁迅") == []  # an explicit filter that matches nothing: nothing


def test_a_title_or_its_distinctive_part_restricts_to_the_essay(seed_retriever: Retriever) -> None:
    hits = seed_retriever.search("产业基础高级化一文如何补齐共性技术缺口？", k=3)
    assert "三是着力补齐共性技术缺口" in hits[0].chunk.text
    assert {h.chunk.author for h in hits} == {"王成仁"}
    titled = seed_retriever.search("在《把握高质量发展要求推进新型工业化》一文里，经济效益指什么？", k=3)
    assert "经济效益是价值创造的表现形式" in titled[0].chunk.text


def test_a_named_section_comes_back_in_reading_order(seed_retriever: Retriever) -> None:
    q = "“明确提质增效着力点”这一部分讲了什么？"
    hits = seed_retriever.search(q, k=4)
    assert {h.chunk.section for h in hits} == {"明确提质增效着力点"}
    assert [h.chunk.char_start for h in hits] == sorted(h.chunk.char_start for h in hits)
    assert "两方面发力" in hits[0].chunk.text
    assert seed_retriever.relevance(q, hits) >= 0.5


def test_a_list_question_gets_the_items_in_order(seed_retriever: Retriever) -> None:
    hits = seed_retriever.search("实现高水平科技自立自强有哪些举措？", k=5)
    text = "".join(h.chunk.text for h in hits)
    marks = [text.find(f"{n}是") for n in "一二三四五"]
    assert all(m >= 0 for m in marks) and marks == sorted(marks), marks
    items = [i for i, h in enumerate(hits) if re.search("[一二三四五]是", h.chunk.text)]
    assert items == list(range(items[0], items[0] + len(items)))  # consecutive hits
    plain = seed_retriever.search("实现高水平科技自立自强有哪些举措？", k=5, group_lists=False)
    assert "五是推进开放合作创新" not in "".join(h.chunk.text for h in plain)


def test_an_english_question_is_retrieved_densely_and_not_refused(seed_retriever: Retriever) -> None:
    q = "What are the features of high-quality new industrialization?"
    hits = seed_retriever.search(q, k=5)
    assert any("科技水平高" in h.chunk.text for h in hits)
    assert seed_retriever.relevance(q, hits) >= 0.5
    off = "What is the retirement age policy?"
    assert seed_retriever.relevance(off, seed_retriever.search(off, k=5)) < 0.5


def test_relevance_under_a_filter_reflects_the_filtered_passages(seed_retriever: Retriever) -> None:
    q = "什么是产业韧性？"
    everywhere = seed_retriever.search(q, k=5)
    in_fu = seed_retriever.search(q, k=5, essay=_essay(seed_retriever, "傅晋华"))
    assert in_fu and {h.chunk.author for h in in_fu} == {"傅晋华"}
    assert seed_retriever.relevance(q, everywhere) >= 0.5
    assert seed_retriever.relevance(q, in_fu) < 0.5
    # lexical-only hits under a filter are scored densely within their own essay, never against the corpus
    lex = seed_retriever.search(q, k=5, essay=_essay(seed_retriever, "傅晋华"), mode="lexical")
    assert seed_retriever.relevance(q, lex) < 0.5
    named = seed_retriever.search("傅晋华怎么定义产业韧性？", k=5)
    assert {h.chunk.author for h in named} == {"傅晋华"}
    assert seed_retriever.relevance("傅晋华怎么定义产业韧性？", named) < 0.5
