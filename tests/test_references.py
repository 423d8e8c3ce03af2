"""What a question names: authors (with or without 老师/研究员), essay titles (whole, in 《》, or a distinctive
part), sections, quoted passages; a name that matches nothing names nothing."""

from __future__ import annotations

import pytest
from retrieval_fixtures import SEED_PAGE

from rag.corpus import load_corpus
from rag.references import ReferenceFinder, asks_byline, find_references
from rag.types import Essay


@pytest.fixture(scope="module")
def essays() -> list[Essay]:
    return load_corpus([SEED_PAGE])


def _by(essays: list[Essay], author: str) -> str:
    return next(e.id for e in essays if e.author == author)


@pytest.mark.parametrize(("question", "author"), [
    ("王成仁的文章主要讲了什么？", "王成仁"),
    ("王成仁老师怎么看链主企业？", "王成仁"),
    ("傅晋华研究员对人才有什么看法？", "傅晋华"),
    ("李老师怎么看开放合作？", "李晓华"),  # the only author surnamed 李
    ("晓华研究员怎么看生态环境？", "李晓华"),
])
def test_an_author_is_named_with_or_without_a_title(essays: list[Essay], question: str, author: str) -> None:
    refs = find_references(question, essays)
    assert refs.authors == (author,)
    assert refs.scope(essays) == (_by(essays, author),)
    assert author not in refs.topic(question) and "老师" not in refs.topic(question)


def test_an_ambiguous_surname_or_an_unknown_name_names_nobody(essays: list[Essay]) -> None:
    assert find_references("王老师怎么看？", essays).empty  # 王静 and 王成仁
    unknown = find_references("张伟在哪所大学任教？", essays)
    assert unknown.empty and unknown.scope(essays) == () and unknown.topic("张伟在哪所大学任教？") == "张伟在哪所大学任教？"
    assert find_references("《红楼梦》讲了什么？", essays).empty


def test_two_authors_scope_both_essays(essays: list[Essay]) -> None:
    refs = find_references("李晓华和王成仁都谈到了自主创新，他们分别怎么说？", essays)
    assert set(refs.authors) == {"李晓华", "王成仁"}
    assert set(refs.scope(essays)) == {_by(essays, "李晓华"), _by(essays, "王成仁")}


@pytest.mark.parametrize(("question", "author"), [
    ("《强化区域创新促新质生产力发展》中怎样提升原始创新能力？", "傅晋华"),
    ("全面提升产业体系现代化水平一文怎么谈安全？", "王静"),  # the whole title without 《》
    ("《产业基础高级化》讲了什么？", "王成仁"),  # part of a title in 《》
    ("区域创新那篇文章讲了什么？", "傅晋华"),  # a distinctive part followed by 那篇
    ("推进新型工业化那篇文章提到的2035年目标是什么？", "李晓华"),
])
def test_an_essay_is_named_by_its_title_or_a_distinctive_part(essays: list[Essay], question: str, author: str) -> None:
    refs = find_references(question, essays)
    assert refs.essay_ids == (_by(essays, author),) and refs.authors == ()


def test_a_topic_word_shared_with_a_title_is_not_a_reference(essays: list[Essay]) -> None:
    assert find_references("新型工业化的特征有哪些？", essays).empty
    assert find_references("如何发展新质生产力？", essays).essay_ids == ()


def test_a_section_is_named_by_its_title_or_a_quoted_part(essays: list[Essay]) -> None:
    refs = find_references("“明确提质增效着力点”这一部分讲了什么？", essays)
    assert [(s.essay_id, s.title) for s in refs.sections] == [(_by(essays, "李晓华"), "明确提质增效着力点")]
    assert refs.scope(essays) == ()  # a section is boosted, not a filter
    quoted = find_references("“注重要素协同”这部分讲的是什么？", essays)
    assert [s.title for s in quoted.sections] == ["注重要素协同，打造产业创新生态体系"]
    # a clause that opens two sections of one essay names neither
    assert find_references("推动产业基础高级化在实践中要做什么？", essays).sections == ()


def test_a_quotation_from_another_essay_widens_the_scope(essays: list[Essay]) -> None:
    refs = find_references("傅晋华在文章中说“一是加快传统产业转型升级”，具体指什么？", essays)
    assert refs.authors == ("傅晋华",)
    assert set(refs.scope(essays)) == {_by(essays, "傅晋华"), _by(essays, "李晓华")}


def test_authorship_questions(essays: list[Essay]) -> None:
    assert asks_byline("《创新驱动产业基础高级化》的作者是谁？")
    assert asks_byline("Who wrote the essay on regional innovation?")
    named = find_references("王静在哪所大学任教？", essays)
    assert asks_byline("王静在哪所大学任教？", named)
    # post words need a named author or essay: "来自哪里" alone asks about the text
    assert not asks_byline("过去我国工业的效率主要来自哪里？", find_references("过去我国工业的效率主要来自哪里？", essays))


def test_the_finder_is_reused_for_the_same_corpus(essays: list[Essay]) -> None:
    assert ReferenceFinder.for_essays(essays) is ReferenceFinder.for_essays(list(essays))
    assert find_references("   ", essays).empty and find_references("李晓华", []).empty


@pytest.mark.parametrize(("question", "author"), [
    ("How does Li Xiaohua see opening up?", "李晓华"),
    ("What does Xiaohua Li think about green growth?", "李晓华"),  # given name first
    ("LI Xiao-hua on resilience", "李晓华"),
    ("Is Wang Chengren's essay about basic research?", "王成仁"),
    ("What does wang jing say about finance?", "王静"),
    ("According to Fu Jin Hua, what matters most?", "傅晋华"),
    ("What does Professor Li say about efficiency?", "李晓华"),  # the only surname read Li
])
def test_an_author_named_in_pinyin_is_the_author(essays: list[Essay], question: str, author: str) -> None:
    refs = find_references(question, essays)
    assert refs.authors == (author,)
    assert refs.scope(essays) == (_by(essays, author),)
    rest = refs.topic(question).lower()
    assert "xiao" not in rest and "chengren" not in rest and "jinhua" not in rest.replace(" ", "")


@pytest.mark.parametrize("question", [
    "What does Dr. Wang say about chains?",  # 王静 and 王成仁 both read Wang
    "What did Wang Jingwei write?",  # another name that starts like one
    "How do the essays treat the living standards of people?",  # ordinary words, no name
    "Where is Fujin?",
])
def test_a_pinyin_name_that_fits_no_author_or_two_names_nobody(essays: list[Essay], question: str) -> None:
    assert find_references(question, essays).authors == ()


def test_an_author_is_named_by_the_institution_of_the_byline(essays: list[Essay]) -> None:
    refs = find_references("西北政法大学那位教授写的是哪篇文章？", essays)
    assert refs.authors == ("王静",) and asks_byline("西北政法大学那位教授写的是哪篇文章？", refs)
    assert find_references("中国国际经济交流中心的专家怎么看开放合作？", essays).authors == ("王成仁",)
    assert find_references("研究所的专家怎么看开放合作？", essays).authors == ()  # a generic word names nobody
