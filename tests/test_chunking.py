"""Chunks: sentence-aligned, inside one section, exact offsets, stable content-hash ids, token-bounded."""

from __future__ import annotations

import pytest
from retrieval_fixtures import SEED_PAGE

from rag.chunking import HARD_LIMIT, chunk_corpus, chunk_essay, split_parts
from rag.config import Settings
from rag.corpus import load_corpus
from rag.tokens import count_tokens
from rag.types import Essay, Section

DEFAULTS = Settings.from_env({"POLICY_QA_HOME": "/nonexistent"})


@pytest.fixture(scope="module")
def essays() -> list[Essay]:
    return load_corpus([SEED_PAGE])


@pytest.fixture(scope="module")
def chunks(essays: list[Essay]) -> list:
    return chunk_corpus(essays, DEFAULTS.chunk_size, DEFAULTS.chunk_overlap)


def test_every_chunk_lies_inside_one_section(essays: list[Essay], chunks: list) -> None:
    by_id = {e.id: e for e in essays}
    for c in chunks:
        section = by_id[c.essay_id].sections[c.section_index]
        assert section.title == c.section
        assert c.text in "\n".join(section.paragraphs)


def test_offsets_point_into_the_essay_text(essays: list[Essay], chunks: list) -> None:
    by_id = {e.id: e for e in essays}
    for c in chunks:
        assert by_id[c.essay_id].text[c.char_start : c.char_end] == c.text


def test_paragraph_range_covers_the_chunk(essays: list[Essay], chunks: list) -> None:
    by_id = {e.id: e for e in essays}
    for c in chunks:
        paragraphs = [p for s in by_id[c.essay_id].sections for p in s.paragraphs]
        span = "\n".join(paragraphs[c.paragraph_start : c.paragraph_end + 1])
        assert c.paragraph_start <= c.paragraph_end
        assert c.text in span


def test_chunks_end_on_sentence_punctuation(essays: list[Essay], chunks: list) -> None:
    """Only a sentence longer than the hard limit may be cut elsewhere (at a comma)."""
    by_id = {e.id: e for e in essays}
    ends = ("。", "！", "？", "；", "”", "）")
    for c in chunks:
        if c.text.endswith(ends):
            continue
        text = by_id[c.essay_id].text
        start = max(text.rfind(p, 0, c.char_end) for p in "。！？；\n") + 1
        stop = min((i for i in (text.find(p, c.char_end) for p in "。！？；") if i >= 0), default=len(text))
        assert count_tokens(text[start : stop + 1]) > DEFAULTS.chunk_size * HARD_LIMIT, c.text[-20:]
        assert c.text.endswith(("，", "、")), c.text[-20:]


def test_chunks_respect_the_token_budget_and_stay_short(chunks: list) -> None:
    """Over budget only as one whole sentence, and never beyond the hard limit."""
    for c in chunks:
        n = count_tokens(c.text)
        assert n <= DEFAULTS.chunk_size * HARD_LIMIT
        if n > DEFAULTS.chunk_size:
            assert sum(c.text.count(p) for p in "。！？；") <= 1, c.text
    assert max(len(c.text) for c in chunks) <= 400


def test_the_whole_text_is_covered(essays: list[Essay], chunks: list) -> None:
    for e in essays:
        covered = "".join(c.text for c in chunks if c.essay_id == e.id).replace("\n", "")
        assert len(covered) >= len(e.text.replace("\n", ""))


def test_ids_are_deterministic_unique_and_content_based(essays: list[Essay], chunks: list) -> None:
    again = chunk_corpus(essays, DEFAULTS.chunk_size, DEFAULTS.chunk_overlap)
    assert [c.id for c in again] == [c.id for c in chunks]
    assert len({c.id for c in chunks}) == len(chunks)
    e = essays[0]
    first = e.sections[0]
    edited = Essay(e.id, e.title, e.author, e.affiliation, e.source,
                   (Section(first.title, (first.paragraphs[0] + "补充一句。", *first.paragraphs[1:])), *e.sections[1:]))
    changed = {c.id for c in chunk_essay(edited, DEFAULTS.chunk_size)} ^ {c.id for c in chunk_essay(e, DEFAULTS.chunk_size)}
    assert changed, "editing the text must change some chunk ids"


def test_metadata_is_complete(essays: list[Essay], chunks: list) -> None:
    c = chunks[0]
    meta = c.metadata()
    for key in ("essay_id", "title", "author", "affiliation", "section", "paragraph_start", "paragraph_end",
                "char_start", "char_end", "source"):
        assert key in meta
    assert c.author == essays[0].author and c.source.endswith(SEED_PAGE.name)


def test_smaller_size_gives_more_chunks_and_overlap_repeats_sentences(essays: list[Essay]) -> None:
    small = chunk_corpus(essays, 60)
    big = chunk_corpus(essays, 200)
    assert len(small) > len(big)
    overlapped = chunk_corpus(essays, 120, 60)
    plain = chunk_corpus(essays, 120, 0)
    assert sum(len(c.text) for c in overlapped) > sum(len(c.text) for c in plain)


def test_a_sentence_longer_than_a_chunk_is_cut_at_commas() -> None:
    long_sentence = "，".join(["推动产业链供应链优化升级"] * 30) + "。"
    essay = Essay("x-1", "标题", "作者", "", "x.txt", (Section("一", (long_sentence,)),))
    parts = chunk_essay(essay, 40)
    assert len(parts) > 1
    assert all(count_tokens(p.text) <= 40 for p in parts)
    assert "".join(p.text for p in parts) == long_sentence


def test_empty_sections_are_skipped() -> None:
    essay = Essay("x-1", "标题", "作者", "", "x.txt", (Section("空", ()), Section("二", ("只有一句。",))))
    [only] = chunk_essay(essay, 100)
    assert only.section == "二" and only.char_start == 0 and only.text == "只有一句。"


def test_sub_passages_cover_the_chunk_sentence_by_sentence(chunks: list) -> None:
    for c in chunks:
        parts = split_parts(c.text, 50)
        assert "".join(parts).replace("\n", "") == c.text.replace("\n", "")
        assert all(count_tokens(p) <= 50 * HARD_LIMIT for p in parts)
    one, two = "推进绿色制造，是实现工业高质量发展的必然选择。", "循环利用是绿色工厂的关键环节；"
    assert split_parts(one + two, max(count_tokens(one), count_tokens(two))) == [one, two]
    assert split_parts(one + two, 0) == [one + two]
