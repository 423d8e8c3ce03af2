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


def test_a_nudge_is_added_to_the_bigram_share_and_never_replaces_it(index: SentenceIndex) -> None:
    from rag.crosslingual import NUDGE_WEIGHT, meaning_nudge
    from rag.extractive import _covers
    from rag.sentences import bigrams

    a, b, _ = _starts(index)
    ends = [s.end for s in index.sentences["e1"]]
    parts = [PartScore("e1", a, ends[0], 0.70), PartScore("e1", b, ends[1], 0.80)]
    nudge = meaning_nudge(parts, index)
    first, second = index.sentences["e1"][:2]
    assert nudge[("e1", b)] == pytest.approx(NUDGE_WEIGHT)  # the best by meaning gets the whole weight
    core = bigrams("产业韧性")
    own = index.coverage(core, first.text)
    assert _covers(core, first, index, nudge) == pytest.approx(own + nudge[("e1", a)])
    # as a replacement (an English question's meaning), the best by meaning would score 1 whatever its words
    assert _covers(core, second, index, sentence_meaning(parts, index)) == pytest.approx(1.0)
    assert _covers(core, second, index, nudge) < 1.0
