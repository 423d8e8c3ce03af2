# ruff: noqa: F811  (pytest fixtures imported from retrieval_fixtures are redefined as parameters)
"""English questions on the seed essays: authors named in pinyin, sentences chosen by meaning, the notice that the
essays are Chinese, and English questions the essays do not cover still refused."""

from __future__ import annotations

import re

import pytest

import prompts
from rag.answer import Assistant
from rag.config import Settings
from rag.retrieve import Retriever

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def offline(seed_retriever: Retriever, seed_settings: Settings) -> Assistant:
    return Assistant(seed_retriever, None, seed_settings)


@pytest.mark.parametrize(("question", "author", "phrase"), [
    ("How does Wang Jing suggest improving the conversion of scientific results?", "王静", "科技成果转化率"),
    ("What does Professor Li mean by resilience of industry?", "李晓华", "面对冲击"),
    ("What does Li Xiaohua say about how Western countries industrialized?", "李晓华", "先污染后治理"),
    ("What does Wang Jing say about talent?", "王静", "领军人才"),  # short: its words are translated
    ("王静怎么看 talent?", "王静", "领军人才"),  # mixed: the Chinese part only names the author
    ("李晓华怎么看 green development?", "李晓华", "绿色发展理念"),
])
def test_an_english_question_is_answered_from_the_named_authors_chinese_text(
        offline: Assistant, question: str, author: str, phrase: str) -> None:
    answer = offline.ask(question)
    assert not answer.refused
    assert {c.chunk.author for c in answer.citations} == {author}
    assert phrase in answer.answer
    assert prompts.phrase("english_notice") in answer.notice
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)} == {c.n for c in answer.citations}


@pytest.mark.parametrize("question", [
    "What does Wang Jing say about housing prices?",
    "Where did Wang Chengren study abroad?",
    "What does Li Xiaohua say about the stock market?",  # a phrase whose translation (股市) the essays never use
    "王静怎么看 the football league?",
    "What does Fu Jinhua say about food security?",
])
def test_an_english_question_the_essays_do_not_cover_is_refused(offline: Assistant, question: str) -> None:
    assert offline.ask(question).refused


def test_part_scores_rank_the_sentence_that_answers_first(seed_retriever: Retriever) -> None:
    question = "What is industrial resilience?"
    hits = seed_retriever.search(question)
    parts = seed_retriever.part_scores(question, hits)
    assert parts and [p.score for p in parts] == sorted((p.score for p in parts), reverse=True)
    texts = {e.id: e.text for e in seed_retriever.essays}
    assert "产业韧性是指" in texts[parts[0].essay_id][parts[0].start:parts[0].end]
    for p in parts:  # every part lies inside a retrieved chunk
        assert any(h.chunk.essay_id == p.essay_id and h.chunk.char_start <= p.start < p.end <= h.chunk.char_end
                   for h in hits)
