"""The final `Answer` of one question: its text's markers mapped to chunks and checked, a refusal that names the
nearest covered topics, a fixed reply (decline, need-context), and the per-stage timer.

Both answer paths end here: the extractive composer's quoted text and the model's verified text go through the
same citation check, so `Answer.citations` means the same thing whichever backend wrote the words.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

import prompts
from rag import citations as cit
from rag import premise as pm
from rag.types import Answer, Chunk, Citation, Delta, Essay, Hit

# The system prompt is protected text: an answer repeating any 12 consecutive characters of it (outside the
# refusal and decline sentences the assistant may say) leaks it.
LEAK_N = 12


class Timer:
    """Per-stage wall-clock timings in milliseconds."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.ms: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + (now - self.last) * 1000
        self.last = now

    def mark_first_token(self) -> None:
        """What the user waits for before the first generated characters."""
        self.lap("first_token")
        self.ms["to_first_token"] = (time.perf_counter() - self.start) * 1000

    def total(self) -> None:
        self.ms["total"] = (time.perf_counter() - self.start) * 1000


def leak_grams(system_prompt: str) -> set[str]:
    """12-character windows of the system prompt, minus the sentences the assistant may legitimately say."""
    text = re.sub(r"\s", "", system_prompt)
    for allowed in (prompts.phrase("refusal"), prompts.phrase("decline")):
        text = text.replace(re.sub(r"\s", "", allowed), "\n")
    grams: set[str] = set()
    for part in text.split("\n"):
        grams.update(part[i:i + LEAK_N] for i in range(max(0, len(part) - LEAK_N + 1)))
    return grams


class Replier:
    """Builds the events that end a question: checked citations, refusals and fixed replies."""

    def __init__(self, essays: Sequence[Essay], backend: str, model: str, system_prompt: str) -> None:
        self.essays = list(essays)
        self.backend = backend
        self.model = model
        self._leak_grams = leak_grams(system_prompt)
        self._bylines = {e.id: f"{e.author}《{e.title}》{e.affiliation}" for e in self.essays}

    def byline(self, chunk: Chunk) -> str:
        """Author, title and affiliation of the chunk's essay: a claim about who wrote it is supported by it."""
        return self._bylines.get(chunk.essay_id, "")

    def leaks(self, text: str) -> bool:
        """Does the text repeat a protected stretch of the system prompt?"""
        compact = re.sub(r"\s", "", text)
        return any(compact[i:i + LEAK_N] in self._leak_grams for i in range(max(0, len(compact) - LEAK_N + 1)))

    def check(self, text: str, cited: list[tuple[int, Chunk]], hits: list[Hit]) -> cit.Checked:
        """Each cited sentence checked against its passage (plus the byline); dangling markers removed."""
        augmented = [(n, replace(c, text=c.text + self.byline(c))) for n, c in cited]
        checked = cit.check(text, augmented)
        originals = dict(cited)
        fixed = [Citation(c.n, originals[c.n], c.supported, c.sentences) for c in checked.citations]
        # a marker whose source ends up with no citation (its sentence was empty) points nowhere: remove it
        shown = {c.n for c in fixed}
        text = re.sub(r"\[(\d{1,3})\]", lambda m: m.group(0) if int(m.group(1)) in shown else "", checked.text)
        return cit.Checked(text, fixed)

    def answer(self, q: str, standalone: str, text: str, refused: bool, citations: list[Citation],
               hits: list[Hit], timer: Timer, *, usage: dict[str, int] | None = None, notice: str = "",
               backend: str | None = None, model: str | None = None, error: str = "",
               premise: dict[str, str] | None = None) -> Answer:
        timer.total()
        return Answer(
            question=q, standalone_question=standalone, answer=text, refused=refused, citations=citations,
            retrieved=hits, backend=backend or self.backend, model=model or self.model,
            usage=usage or {}, timings_ms=timer.ms, notice=notice, error=error, premise=premise or {},
        )

    def fixed(self, q: str, standalone: str, text: str, timer: Timer, refused: bool, hits: Sequence[Hit] = (),
              prefix_emitted: bool = False) -> Iterator[Delta | Answer]:
        """A reply the product writes itself (decline, refusal, need-context), streamed at once."""
        if prefix_emitted:
            yield Delta("\n")
        yield Delta(text)
        yield self.answer(q, standalone, text, refused, [], list(hits), timer)

    def refuse(self, q: str, standalone: str, hits: list[Hit], timer: Timer,
               topics: bool = True, absent: Sequence[str] = ()) -> Iterator[Delta | Answer]:
        """The refusal, saying which of the question's key terms the essays never use, then the nearest topics."""
        text = prompts.phrase("refusal")
        if absent:
            text += prompts.phrase("refusal_absent", terms="、".join(f"“{t}”" for t in dict.fromkeys(absent)))
        text += self.topics_suffix(hits) if topics else ""
        yield from self.fixed(q, standalone, text, timer, refused=True, hits=hits)

    def withdrawn_refusal(self, q: str, standalone: str, hits: list[Hit], timer: Timer, notice: str,
                          usage: dict[str, int] | None = None) -> Answer:
        """The refusal in place of a streamed model answer that failed its checks (`replaced`: consumers show
        `answer` instead of the streamed text)."""
        text = prompts.phrase("refusal") + self.topics_suffix(hits)
        final = self.answer(q, standalone, text, True, [], hits, timer, usage=usage, notice=notice)
        final.replaced = True
        return final

    def topics_suffix(self, hits: Sequence[Hit]) -> str:
        """Name the nearest topics the essays do cover: section titles of the best hits."""
        topics: list[str] = []
        for h in hits:
            title = h.chunk.title if h.chunk.section in ("", "引言") else h.chunk.section
            label = f"“{title}”（{h.chunk.author}）"
            if label not in topics:
                topics.append(label)
            if len(topics) == 3:
                break
        if not topics:
            topics = [f"“{e.title}”（{e.author}）" for e in self.essays[:3]]
        if not topics:
            return ""
        full = prompts.phrase("refusal_topics", topics="、".join(topics))
        return full[len(prompts.phrase("refusal")):]

    def extractive(self, q: str, standalone: str, text: str, hits: list[Hit], timer: Timer, notice: str,
                   backend: str = "extractive", error: str = "", replaced: bool = False,
                   usage: dict[str, int] | None = None,
                   premise: pm.PremiseCheck | None = None) -> Iterator[Delta | Answer]:
        """A quoted (extractive) answer; `replaced` when it takes the place of streamed model text."""
        markers = cit.MarkerMap([h.chunk for h in hits])
        text = markers.apply(cit.sanitize(text)).strip()
        checked = self.check(text, markers.cited(), hits)
        timer.lap("generate")
        if not replaced:
            yield Delta(checked.text)
        final = self.answer(q, standalone, checked.text, False, checked.citations, hits, timer, notice=notice,
                            backend=backend, model="extractive", error=error, usage=usage,
                            premise=premise.to_dict() if premise else None)
        # replaced: the streamed model text is withdrawn; consumers show `answer` in its place
        final.replaced = replaced
        yield final
