"""The generated answer: prompt built from fenced sources, the model's stream cleaned of markers it cannot
mean, the result verified (`rag/verify.py`), and the extractive answer in its place when the model's text does
not hold up, refuses what the essays cover, or the model is unavailable.

The orchestrator (`rag/answer.py`) decides what is asked and which passages answer it; this module only turns
that into model calls. The extractive answer is passed in as a callable, computed only when it is needed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import prompts
from rag import citations as cit
from rag import extractive as ex
from rag import premise as pm
from rag import sources as src
from rag import verify
from rag.config import Settings
from rag.errors import LLMConfigError, LLMError, LLMUnavailableError
from rag.question import EXTRACTION, clean_question, script_quotes
from rag.reply import Replier, Timer
from rag.tokens import count_tokens
from rag.types import Answer, Chunk, Delta, Essay, Hit, Turn

if TYPE_CHECKING:  # the openai package takes ~0.4 s to import; the offline backend never needs it
    from rag.llm import ChatModel

Extractive = Callable[[], ex.Composed]
# A section batch of a long essay's map-reduce summary is answered in at most this many tokens.
SUMMARY_MAP_TOKENS = 400
# A small model's essay summary reads the offline summary's sentences within this many times the source budget:
# the seed essays' offline summaries take 595-676 cl100k tokens, so twice the 400-token budget keeps them whole.
SUMMARY_SCALE = 2


class Generator:
    """Model calls for one assistant: follow-up rewrites, answers, summaries; each verified before it counts."""

    def __init__(self, chat: ChatModel, settings: Settings, system_prompt: str, reply: Replier, *,
                 fallback: bool, summary_budget: int) -> None:
        self.chat = chat
        self.settings = settings
        self.system_prompt = system_prompt
        self.reply = reply
        self.fallback = fallback
        self.summary_budget = summary_budget

    @property
    def budget(self) -> int:
        """The sources' token budget (0: whole passages)."""
        return src.source_budget(self.settings.source_tokens, self.chat.backend)

    def _messages(self, user: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]

    def _sources(self, hits: list[Hit], question: str, extractive: Extractive, keep_all: bool = False,
                 scale: int = 1) -> tuple[list[Hit], str, tuple[str, ...]]:
        """The hits the model may cite, their sources block, and the sentences the block gives a small model. A
        small model (a source budget) gets the sentences the extractive composer chose (the whole list, an item's
        how-to, each essay's central sentences), not the passage sentences nearest the question's words."""
        if self.budget > 0:
            composed = extractive()
            chosen = src.composed_sources(composed.text, composed.hits, self.budget * scale)
            if chosen.hits:
                return chosen.hits, src.format_sources(chosen.hits, texts=chosen.texts), tuple(chosen.texts)
        return hits, src.prompt_sources(hits, question, self.budget, keep_all=keep_all), ()

    # ----------------------------------------------------------------------------------------- rewrite

    def rewrite(self, q: str, history: Sequence[Turn]) -> str:
        """A model rewrite of a follow-up the heuristic could not place, or "" (too slow a model, or it failed)."""
        if not getattr(self.chat, "cheap", True):
            # a CPU model took 10-13 s for this rewrite before retrieval could start: the heuristic does it
            return ""
        lines = []
        for t in list(history)[-6:]:
            who = "用户" if t.role == "user" else "助手"
            lines.append(f"{who}：{src.fence(clean_question(t.content))[:600]}")
        prompt = prompts.render("rewrite", history="\n".join(lines), question=src.fence(q))
        messages = [{"role": "user", "content": prompt}]
        try:
            complete = getattr(self.chat, "complete", None)  # no need to stream a one-line rewrite
            out = (complete(messages, max_tokens=120) if callable(complete)
                   else "".join(self.chat.stream(messages, max_tokens=120))).strip()
        except LLMConfigError:
            raise
        except LLMError:
            return ""
        out = cit.sanitize(out).splitlines()[0].strip() if out else ""
        out = re.sub(r"^(改写后的问题|问题)[：:]\s*", "", out).strip("“”\"' ")
        if not out or len(out) > 200 or EXTRACTION.search(out):
            return ""
        return out

    # ----------------------------------------------------------------------------------------- by kind

    def answer(self, q: str, standalone: str, hits: list[Hit], premise: pm.PremiseCheck | None, timer: Timer,
               extractive: Extractive, expected: verify.Expected | None = None,
               offline_covers: bool = False, offline_refuses: bool = False) -> Iterator[Delta | Answer]:
        """A question answered from retrieved passages (the gate already said they cover it); `offline_covers`:
        the offline answer's own gate would answer it too, so a model refusal is replaced by that answer;
        `offline_refuses`: it would refuse, so an answer failing on a noun no passage holds becomes the refusal."""
        note = ""
        if premise is not None:
            note = f"注意：问题中的说法与资料不符（{premise.explanation}），请先根据资料指出并纠正，再回答。"
        hits, sources, given = self._sources(hits, standalone, extractive)
        if given and premise is None:
            # a small model answers from the offline answer's sentences: an answer keeping little of them has
            # dropped what answers (verify.KEPT_MIN)
            expected = dataclasses.replace(expected or verify.Expected(), quoted="\n".join(given))
        user = prompts.render("answer", sources=sources, question=src.fence(standalone), note=note,
                              refusal=prompts.phrase("refusal"))
        yield from self.stream(q, standalone, self._messages(user), hits, timer, extractive,
                               allow_refusal=premise is None, expected=expected, premise=premise,
                               offline_covers=offline_covers, offline_refuses=offline_refuses)

    def summary(self, q: str, standalone: str, essay: Essay, hits: list[Hit], timer: Timer,
                extractive: Extractive) -> Iterator[Delta | Answer]:
        """One essay summarised: in one call when it fits the budget, else section batches then concatenation."""
        chunks = [h.chunk for h in hits]
        batches = _batches(chunks, self.summary_budget)
        author, title = src.fence(essay.author, one_line=True), src.fence(essay.title, one_line=True)
        if len(batches) == 1 or self.budget > 0:
            # a small model summarises the offline summary's sentences in one call (a map-reduce over a whole
            # essay took 21-50 s on 2 cores)
            hits, sources, _ = self._sources(hits, q, extractive, scale=SUMMARY_SCALE) if self.budget > 0 else (
                hits, src.format_sources(hits), ())
            user = prompts.render("summary_essay", author=author, title=title, question=src.fence(q),
                                  sources=sources)
            yield from self.stream(q, standalone, self._messages(user), hits, timer, extractive, allow_refusal=False)
            return
        # map: each batch of sections summarised on its own, markers numbered globally; reduce: concatenation
        parts: list[str] = []
        usage: dict[str, int] = {}
        offset = 0
        try:
            for batch in batches:
                user = prompts.render("summary_map", author=author, title=title,
                                      sources=src.format_sources([Hit(c, 1.0) for c in batch], start=offset + 1))
                cap = min(SUMMARY_MAP_TOKENS, self.settings.max_tokens)
                parts.append("".join(self.chat.stream(self._messages(user), max_tokens=cap)))
                for key, v in self.chat.last_usage.items():
                    usage[key] = usage.get(key, 0) + v
                offset += len(batch)
        except LLMConfigError:
            raise
        except LLMError as exc:
            yield from self.fallback_or_error(q, standalone, hits, timer, exc, extractive)
            return
        timer.lap("generate")
        raw = f"{essay.author}《{essay.title}》按章节概括如下：\n" + "\n".join(p.strip() for p in parts)
        yield from self._finish_raw(q, standalone, raw, hits, timer, usage=usage)

    def topic(self, q: str, standalone: str, hits: list[Hit], timer: Timer, extractive: Extractive,
              expected: verify.Expected | None = None) -> Iterator[Delta | Answer]:
        """A topic across essays: every essay's passages kept, the budget shared out."""
        hits, sources, _ = self._sources(hits, standalone, extractive, keep_all=True)
        user = prompts.render("summary_topic", question=src.fence(standalone), sources=sources)
        yield from self.stream(q, standalone, self._messages(user), hits, timer, extractive, allow_refusal=False,
                               expected=expected)

    def overview(self, q: str, standalone: str, hits: list[Hit], timer: Timer,
                 extractive: Extractive) -> Iterator[Delta | Answer]:
        """What the essays are about, from each essay's opening passage."""
        hits, sources, _ = (self._sources(hits, standalone, extractive) if self.budget > 0
                            else (hits, src.format_sources(hits), ()))
        user = prompts.render("summary_topic", question=src.fence(standalone), sources=sources)
        yield from self.stream(q, standalone, self._messages(user), hits, timer, extractive, allow_refusal=False)

    # ----------------------------------------------------------------------------------------- the stream

    def stream(self, q: str, standalone: str, messages: list[dict[str, str]], hits: list[Hit], timer: Timer,
               extractive: Extractive, allow_refusal: bool, expected: verify.Expected | None = None,
               premise: pm.PremiseCheck | None = None, offline_covers: bool = False,
               offline_refuses: bool = False) -> Iterator[Delta | Answer]:
        """Stream the model's answer, then verify it; the final Answer says whether streamed text was withdrawn.
        A contradicted premise is stated first, in the product's words, whatever the model then writes."""
        reply = self.reply
        cleaner = cit.StreamCleaner([h.chunk for h in hits])
        timer.lap("prompt")
        yield Delta("", stage="generating")
        intro = f"{prompts.phrase('premise_intro')}{premise.explanation}\n" if premise is not None else ""
        if intro:
            yield Delta(intro)
        first = True
        try:
            # a CPU model's answer length is most of its time: it may ask for a shorter cap (max_answer_tokens)
            cap = getattr(self.chat, "max_answer_tokens", None) or self.settings.max_tokens
            for piece in self.chat.stream(messages, max_tokens=min(cap, self.settings.max_tokens)):
                if first:
                    timer.mark_first_token()
                    first = False
                out = cleaner.feed(piece)
                if out:
                    if reply.leaks(cleaner.emitted):
                        yield from reply.fixed(q, standalone, prompts.phrase("decline"), timer, refused=True,
                                               prefix_emitted=True)
                        return
                    yield Delta(out)
        except LLMConfigError:
            raise
        except LLMError as exc:
            if not cleaner.raw.strip():
                yield from self.fallback_or_error(q, standalone, hits, timer, exc, extractive)
                return
            yield from self._partial(q, standalone, cleaner, hits, timer, exc)
            return
        tail = cleaner.finish()
        timer.lap("generate")
        usage = dict(self.chat.last_usage)
        if reply.leaks(cleaner.emitted):
            yield from reply.fixed(q, standalone, prompts.phrase("decline"), timer, refused=True, prefix_emitted=True)
            return
        if tail:
            yield Delta(tail)
        text = cleaner.emitted.strip()
        if not cleaner.markers.cited():
            text = cit.cite_uncited(text, cleaner.markers)
        if allow_refusal and model_refused(text, cited=bool(cleaner.markers.cited())):
            if offline_covers:
                # the model gave up on a question the offline answer handles (about one in five answerable
                # questions with the 1.5B model): show the quoted answer instead of a wrong refusal
                composed = extractive()
                yield from reply.extractive(q, standalone, composed.text, composed.hits, timer,
                                            verify.refusal_notice(), replaced=True, usage=usage)
                return
            suffix = reply.topics_suffix(hits)
            if suffix:
                yield Delta(suffix)
            yield reply.answer(q, standalone, prompts.phrase("refusal") + suffix, True, [], hits, timer, usage=usage)
            return
        text = drop_refusal_sentence(text) if cleaner.markers.cited() else text
        verdict = verify.verify(text, cleaner.markers.cited(), standalone, sources=[h.chunk for h in hits],
                                prompt_text="\n".join(m["content"] for m in messages),
                                passages=self._passages(cleaner.markers.cited()), expected=expected,
                                scripted=script_quotes(q))
        timer.lap("verify")
        # the offline answer refuses and the model wrote about something no passage names: the question is not
        # covered, so neither the model's answer nor quotes the offline answer would not show are given (a
        # refusal fallback on any failed check turned 3 of 15 gate-zone answers the extractive fallback got
        # right into refusals; on "absent" alone it fired once there, on the uncovered 傅晋华怎么看低空经济)
        if verdict.fallback and offline_refuses and any(d.reason == "absent" for d in verdict.dropped):
            yield reply.withdrawn_refusal(q, standalone, hits, timer, verify.refused_notice(verdict.reason), usage=usage)
            return
        if verdict.fallback:
            composed = extractive()
            yield from reply.extractive(q, standalone, composed.text, composed.hits, timer, verdict.notice,
                                        replaced=True, usage=usage, premise=premise)
            return
        checked = reply.check(verdict.text, verdict.cited, hits)
        if not checked.citations:
            # every marker lost its citation in the final check: an uncited answer is never shown as the answer
            composed = extractive()
            yield from reply.extractive(q, standalone, composed.text, composed.hits, timer,
                                        prompts.phrase("verify_fallback_notice", reason="原文中找不到依据"),
                                        replaced=True, usage=usage, premise=premise)
            return
        final = reply.answer(q, standalone, intro + checked.text, False, checked.citations, hits, timer,
                             usage=usage, notice=verdict.notice,
                             premise=premise.to_dict() if premise is not None else None)
        # sentences the stream showed were withdrawn (markers added in code are not a withdrawal)
        final.replaced = verdict.changed
        yield final

    def _passages(self, cited: Sequence[tuple[int, Chunk]]) -> dict[int, str]:
        return {n: c.text + self.reply.byline(c) for n, c in cited}

    def _partial(self, q: str, standalone: str, cleaner: cit.StreamCleaner, hits: list[Hit], timer: Timer,
                 exc: LLMError) -> Iterator[Delta | Answer]:
        """The stream broke after some text: it is checked too (repeats, unsupported sentences) but kept as
        partial, with a marker, not replaced."""
        tail = cleaner.finish()
        if tail:
            yield Delta(tail)
        marker = prompts.phrase("partial_marker")
        yield Delta("\n" + marker)
        verdict = verify.verify(cleaner.emitted, cleaner.markers.cited(), standalone,
                                sources=[h.chunk for h in hits], passages=self._passages(cleaner.markers.cited()))
        checked = self.reply.check(verdict.text + "\n" + marker, verdict.cited, hits)
        final = self.reply.answer(q, standalone, checked.text, False, checked.citations, hits, timer,
                                  error=str(exc))
        final.replaced = bool(verdict.dropped)
        yield final

    def _finish_raw(self, q: str, standalone: str, raw: str, hits: list[Hit], timer: Timer,
                    usage: dict[str, int] | None = None) -> Iterator[Delta | Answer]:
        markers = cit.MarkerMap([h.chunk for h in hits])
        text = markers.apply(cit.sanitize(raw)).strip()
        if self.reply.leaks(text):
            yield from self.reply.fixed(q, standalone, prompts.phrase("decline"), timer, refused=True)
            return
        verdict = verify.verify(text, markers.cited(), standalone, sources=[h.chunk for h in hits],
                                passages=self._passages(markers.cited()))
        checked = self.reply.check(verdict.text, verdict.cited, hits)
        yield Delta(checked.text)
        yield self.reply.answer(q, standalone, checked.text, False, checked.citations, hits, timer,
                                usage=usage or {}, notice=verdict.notice)

    def fallback_or_error(self, q: str, standalone: str, hits: list[Hit], timer: Timer, exc: LLMError,
                          extractive: Extractive) -> Iterator[Delta | Answer]:
        """The model is unavailable: the extractive answer with a notice (when allowed), else the error."""
        if isinstance(exc, LLMUnavailableError) and self.fallback:
            composed = extractive()
            notice = prompts.phrase("fallback_notice_local" if self.chat.backend == "local" else "fallback_notice")
            yield from self.reply.extractive(q, standalone, composed.text, composed.hits, timer, notice,
                                             backend="extractive", error=str(exc))
            return
        message = str(exc)
        yield Delta(message)
        yield self.reply.answer(q, standalone, message, False, [], hits, timer, error=message)


def model_refused(text: str, cited: bool = False) -> bool:
    """Did the model refuse? A cited answer only if it opens with the refusal sentence; an uncited one if it
    contains it anywhere or is a short "not covered" reply."""
    core = re.sub(r"\s|\[\d+\]", "", text)
    head = re.sub(r"\s", "", prompts.phrase("refusal"))[:10]
    if cited:
        return core.startswith(head)
    return head in core or (len(core) < 60 and re.search(r"没有涉及|无法根据|未提及|没有提到", core) is not None)


def drop_refusal_sentence(text: str) -> str:
    """A cited answer that also tacks on the refusal sentence: keep the answer, drop the contradiction."""
    head = prompts.phrase("refusal").strip()[:10]
    i = text.find(head)
    return text[:i].rstrip() if i > 0 else text


# Per chunk in a summary batch: the fence lines and field names (about 30 cl100k tokens) plus headroom.
_CHUNK_OVERHEAD = 40


def _batches(chunks: Sequence[Chunk], budget: int) -> list[list[Chunk]]:
    batches: list[list[Chunk]] = [[]]
    used = 0
    for c in chunks:
        t = count_tokens(c.text) + _CHUNK_OVERHEAD
        if batches[-1] and used + t > budget:
            batches.append([])
            used = 0
        batches[-1].append(c)
        used += t
    return batches
