"""Sentence meaning scores for English questions: the best sub-passage cosine per sentence, rescaled to 0-1."""

from __future__ import annotations

import pytest

from rag.crosslingual import MEANING_WINDOW, sentence_meaning
from rag.sentences import SentenceIndex
from rag.types import Essay, PartScore, Section


@pytest.fixture()
def index() -> SentenceIndex:
    text = "产业韧性是指产业面对冲击时保持稳定的能力。韧性强，工业化才能持续推进。生态破坏少。"
    return SentenceIndex([Essay(id="e1", title="题目", author="作者", affiliation="", source="e1.md",
                                sections=(Section(title="引言", paragraphs=(text,)),))])


def _starts(index: SentenceIndex) -> list[int]:
    return [s.start for s in index.sentences["e1"]]


def test_the_best_sentence_scores_one_and_a_window_below_scores_zero(index: SentenceIndex) -> None:
    a, b, c = _starts(index)
    ends = [s.end for s in index.sentences["e1"]]
    parts = [PartScore("e1", a, ends[0], 0.80), PartScore("e1", b, ends[1], 0.80 - MEANING_WINDOW / 2),
             PartScore("e1", c, ends[2], 0.80 - 2 * MEANING_WINDOW)]
    meaning = sentence_meaning(parts, index)
    assert meaning[("e1", a)] == pytest.approx(1.0)
    assert meaning[("e1", b)] == pytest.approx(0.5)
    assert meaning[("e1", c)] == 0.0


def test_a_sentence_takes_its_best_part_and_a_part_covers_every_sentence_it_spans(index: SentenceIndex) -> None:
    a, b, c = _starts(index)
    end = index.sentences["e1"][1].end
    parts = [PartScore("e1", a, a + 5, 0.70), PartScore("e1", a + 5, end, 0.78), PartScore("e1", c, c + 3, 0.60)]
    meaning = sentence_meaning(parts, index)
    assert meaning[("e1", a)] == meaning[("e1", b)] == pytest.approx(1.0)  # the 0.78 part spans both
    assert meaning[("e1", c)] == 0.0


def test_no_parts_no_meaning(index: SentenceIndex) -> None:
    assert sentence_meaning([], index) == {}
