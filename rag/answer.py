"""The answer layer: question in, grounded Chinese answer with verified citations out.

    from rag.answer import Assistant
    from rag.config import Settings
    print(Assistant.from_settings(Settings.from_env()).ask("新型工业化高质量发展有哪些特征？").answer)

Order of work for one question: clean and bound the input (before any retrieval or model call), decline
prompt-extraction requests, rewrite a follow-up into a standalone question, retrieve, decide whether the essays
cover it (retrieval relevance plus salient-term evidence), correct false premises, then compose (extractive) or
generate (chat model) the answer, map `[n]` markers to retrieved chunks in code and check each cited sentence.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import prompts
from rag import citations as cit
from rag import extractive as ex
from rag import premise as pm
from rag import sources as src
from rag import verify
from rag.config import Settings
from rag.errors import InputError, LLMConfigError, LLMError, LLMUnavailableError
from rag.evidence import EvidenceModel
from rag.planner import EXTRACTION, Plan, Planner, clean_question
from rag.tokens import count_tokens
from rag.types import Answer, Chunk, Citation, Delta, Essay, Hit, Turn

if TYPE_CHECKING:  # the openai package takes ~0.4 s to import; the offline backend never needs it
    from rag.llm import ChatModel

Progress = Callable[[str], None]
# A refusal names the nearest topics the essays cover only when retrieval found something related (relevance at
# least this): off-topic questions (天气, 菜谱, a foreign central bank) score under 0.1 and get the plain refusal.
TOPICS_RELEVANCE = 0.2
SUMMARY_INPUT_TOKENS = 3000  # one essay of the seed page fits; longer essays are summarised in batches


class Retriever(Protocol):
    """What the answer layer needs from retrieval."""

    @property
    def essays(self) -> list[Essay]: ...

    def search(self, question: str, k: int | None = None, author: str | None = None, essay: str | None = None,
               mode: str = "hybrid") -> list[Hit]: ...

    def relevance(self, question: str, hits: Sequence[Hit]) -> float: ...


__all__ = ["Assistant", "clean_question"]


class Assistant:
    """Answers questions about the indexed essays; collaborators are injected so tests can pass fakes."""

    def __init__(self, retriever: Retriever, chat: ChatModel | None, settings: Settings, *,
                 system_prompt: str | None = None, fallback: bool = True,
                 summary_budget: int = SUMMARY_INPUT_TOKENS) -> None:
        self.retriever = retriever
        self.summary_budget = summary_budget
        self.chat = chat
        self.settings = settings
        self.fallback = fallback
        self.index = ex.SentenceIndex(retriever.essays)
        self.evidence = EvidenceModel(retriever.essays, cache_dir=settings.cache_dir)
        self.planner = Planner(retriever.essays, self.evidence)
        self.system_prompt = system_prompt if system_prompt is not None else prompts.render(
            "system", refusal=prompts.phrase("refusal"), decline=prompts.phrase("decline"))
        self._leak_grams = _leak_grams(self.system_prompt)
        self._chunk_cache: dict[str, list[Chunk]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, backend: str | None = None, progress: Progress | None = None,
                      retriever: Retriever | None = None) -> Assistant:
        """Open the retriever (unless given) and the chat model the settings (or `backend`) ask for."""
        from rag.retrieve import open_retriever

        retriever = retriever or open_retriever(settings, progress=progress)
        from rag.evidence import warm_up

        warm_up(settings.cache_dir)  # the word segmenter's dictionary loads in about a second: not on a question
        chosen = backend or settings.resolved_backend
        chat: ChatModel | None = None
        if chosen == "openai":
            from rag.llm import OpenAIChatModel

            chat = OpenAIChatModel.from_settings(settings)
        elif chosen == "local":
            from rag.local_llm import load_local_model

            chat = load_local_model(settings, progress=progress)
            # the local model's context is 4,096 tokens: leave room for the system prompt and the answer
            return cls(retriever, chat, settings, summary_budget=2000)
        return cls(retriever, chat, settings)

    def with_retriever(self, retriever: Retriever) -> Assistant:
        """The same assistant (chat model, prompt, budgets) over another index generation."""
        return type(self)(retriever, self.chat, self.settings, system_prompt=self.system_prompt,
                          fallback=self.fallback, summary_budget=self.summary_budget)

    @property
    def essays(self) -> list[Essay]:
        """The indexed essays."""
        return list(self.retriever.essays)

    @property
    def backend(self) -> str:
        """The generating backend: extractive, openai or local."""
        return self.chat.backend if self.chat is not None else "extractive"

    # ----------------------------------------------------------------------------------------- public API

    def ask(self, question: str, history: Sequence[Turn] = (), author: str | None = None,
            essay: str | None = None) -> Answer:
        """Answer one question and return only the final result."""
        final: Answer | None = None
        for event in self.stream(question, history=history, author=author, essay=essay):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def render_references(self, answer: Answer) -> str:
        """The reference list (cited sources only) and the backend notice, as plain text."""
        parts = [cit.render_references(answer.citations, prompts.phrase("unsupported_marker"))]
        if answer.notice:
            parts.append(answer.notice)
        if answer.error and answer.error not in answer.answer:
            parts.append(answer.error)
        return "\n".join(p for p in parts if p)

    def stream(self, question: str, history: Sequence[Turn] = (), author: str | None = None,
               essay: str | None = None) -> Iterator[Delta | Answer]:
        """Yield answer text as it is produced, then exactly one final Answer."""
        timer = _Timer()
        q = self._check_input(question)
        timer.lap("input")
        if EXTRACTION.search(q):
            yield from self._fixed(q, q, prompts.phrase("decline"), timer, refused=True)
            return
        plan = self.planner.plan(q, history, author=author, essay=essay, rewrite=self._rewrite_or_empty)
        timer.lap("rewrite")
        if EXTRACTION.search(plan.standalone):
            yield from self._fixed(q, plan.standalone, prompts.phrase("decline"), timer, refused=True)
            return
        if plan.needs_context:
            # “其中第二条呢？” with no conversation before it: nothing to resolve it against
            yield from self._fixed(q, plan.standalone, prompts.phrase("need_context"), timer, refused=True)
            return
        if plan.kind == "summary" and plan.essay is not None:
            yield from self._summary(q, plan, timer)
        elif plan.kind == "overview":
            yield from self._overview(q, plan, timer)
        elif plan.kind == "topic":
            yield from self._topic(q, plan, timer)
        elif plan.kind == "meta" and plan.essay is not None:
            yield from self._meta(q, plan, timer)
        else:
            yield from self._qa(q, plan, timer)

    # ----------------------------------------------------------------------------------------- input

    def _check_input(self, question: str) -> str:
        q = clean_question(question or "")
        if not q or not re.search(r"[^\W_]", q):
            raise InputError(prompts.phrase("empty_question"))
        limit = self.settings.max_question_tokens
        if len(q) > limit * 8:  # far beyond any encoding's chars-per-token: skip the full count
            raise InputError(prompts.phrase("question_too_long", tokens=f"{len(q) // 4}+", limit=limit))
        # A BPE token covers at least one UTF-8 byte, so a question of at most `limit` bytes is within the limit
        # without loading the encoding (about 0.2 s in a one-off `ask`).
        if len(q.encode()) > limit and (tokens := count_tokens(q)) > limit:
            raise InputError(prompts.phrase("question_too_long", tokens=tokens, limit=limit))
        return q

    def _rewrite_or_empty(self, q: str, history: Sequence[Turn]) -> str:
        """A model rewrite of a follow-up the heuristic could not place, or "" (no model, or it failed)."""
        if self.chat is None:
            return ""
        try:
            return self._rewrite_with_model(q, history)
        except LLMConfigError:
            raise
        except LLMError:
            return ""

    def _rewrite_with_model(self, q: str, history: Sequence[Turn]) -> str:
        assert self.chat is not None
        if not getattr(self.chat, "cheap", True):
            # a CPU model took 10-13 s for this rewrite before retrieval could start: the heuristic does it
            return ""
        lines = []
        for t in list(history)[-6:]:
            who = "用户" if t.role == "user" else "助手"
            lines.append(f"{who}：{_fence(clean_question(t.content))[:600]}")
        prompt = prompts.render("rewrite", history="\n".join(lines), question=_fence(q))
        messages = [{"role": "user", "content": prompt}]
        complete = getattr(self.chat, "complete", None)  # no need to stream a one-line rewrite
        out = (complete(messages, max_tokens=120) if callable(complete)
               else "".join(self.chat.stream(messages, max_tokens=120))).strip()
        out = cit.sanitize(out).splitlines()[0].strip() if out else ""
        out = re.sub(r"^(改写后的问题|问题)[：:]\s*", "", out).strip("“”\"' ")
        if not out or len(out) > 200 or EXTRACTION.search(out):
            return ""
        return out

    # ----------------------------------------------------------------------------------------- retrieval helpers

    def _essay_chunks(self, essay: Essay) -> list[Chunk]:
        """Every chunk of an essay in reading order (cached)."""
        if essay.id not in self._chunk_cache:
            every = getattr(self.retriever, "chunks", None)
            if callable(every):
                every = every()
            if isinstance(every, list):
                chunks = [c for c in every if c.essay_id == essay.id and not c.is_byline]  # the text, in order
            else:
                hits = self.retriever.search(essay.title, k=500, essay=essay.id)
                chunks = [h.chunk for h in hits if h.chunk.essay_id == essay.id and not h.chunk.is_byline]
            self._chunk_cache[essay.id] = sorted(chunks, key=lambda c: c.char_start)
        return self._chunk_cache[essay.id]

    def _lookup(self, essay_id: str, start: int, end: int) -> Chunk | None:
        essay = next((e for e in self.essays if e.id == essay_id), None)
        if essay is None:
            return None
        best, best_overlap = None, 0
        for c in self._essay_chunks(essay):
            overlap = min(end, c.char_end) - max(start, c.char_start)
            if overlap > best_overlap:
                best, best_overlap = c, overlap
        return best

    def _topic_of(self, q: str) -> str:
        """The question without author names (they are filters, not words to find in the text)."""
        for e in self.essays:
            if e.author:
                q = q.replace(e.author, " ")
        return q

    def _search(self, q: str, author: str | None = None, essay: Essay | None = None, k: int | None = None) -> list[Hit]:
        return self.retriever.search(q, k=k or self.settings.top_k, author=author, essay=essay.id if essay else None)

    # ----------------------------------------------------------------------------------------- answering

    def _qa(self, q: str, plan: Plan, timer: _Timer) -> Iterator[Delta | Answer]:
        filter_author = None if plan.filter_conflict else plan.filter_author
        hits = self._search(plan.standalone, author=plan.author, essay=plan.filter_essay)
        timer.lap("retrieve")
        premise = self._premise(plan, hits)
        if premise is not None and premise.hits:
            hits = list(premise.hits)
        relevance = self.retriever.relevance(plan.standalone, hits) if hits else 0.0
        scope = [e for e in self.essays if e == plan.filter_essay or (filter_author and e.author == filter_author)]
        coverage = self.evidence.coverage(plan.standalone, hits, scope=scope)
        covered = premise is not None or self.evidence.covered(relevance, coverage, plan.standalone, hits,
                                                               strict=self.chat is None)
        timer.lap("gate")
        if not covered:
            if plan.filtered and self._covered_without_filters(plan):
                yield from self._refuse_filtered(q, plan, filter_author, hits, timer)
            else:
                yield from self._refuse(q, plan.standalone, hits if relevance >= TOPICS_RELEVANCE else [], timer,
                                        topics=relevance >= TOPICS_RELEVANCE)
            return
        notes = self._notes(plan)
        if self.chat is None:
            composed = ex.compose_answer(self._topic_of(plan.standalone), hits, self.index, self._lookup,
                                         ask=plan.ask, item=plan.item, topic=self._topic_nouns(plan))
            text = composed.text
            if premise is not None:
                text = f"{prompts.phrase('premise_intro')}{premise.explanation}文章的表述是：\n{text}"
            yield from self._finish_extractive(q, plan.standalone, text, composed.hits, timer,
                                               " ".join([*notes, prompts.phrase("extractive_notice")]),
                                               premise=premise)
            return
        note = ""
        if premise is not None:
            note = f"注意：问题中的说法与资料不符（{premise.explanation}），请先根据资料指出并纠正，再回答。"
        sources = src.prompt_sources(hits, plan.standalone, src.source_budget(self.settings.source_tokens,
                                                                              self.backend))
        user = prompts.render("answer", sources=sources, question=_fence(plan.standalone), note=note,
                              refusal=prompts.phrase("refusal"))
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]
        yield from self._generate(q, plan.standalone, messages, hits, timer, lambda: ex.compose_answer(
            plan.standalone, hits, self.index, self._lookup, ask=plan.ask, item=plan.item),
            allow_refusal=premise is None)

    def _premise(self, plan: Plan, hits: list[Hit]) -> pm.PremiseCheck | None:
        """A premise of the question the essays contradict, with the passages that show it."""
        quoted = pm.check_quote(plan.standalone, plan.author, self.essays)
        if quoted is not None:
            quote, essay = quoted
            found = self._search(quote, essay=essay, k=self.settings.top_k)
            return pm.PremiseCheck(quote, "contradicted", f"这句话出自{essay.author}的《{essay.title}》，"
                                   f"而不是{plan.author}的文章。", None, tuple(found))
        year = pm.check_year(plan.standalone, hits, self.evidence.corpus_text, self.index)
        if year is not None:
            return year
        if plan.presupposition is None:
            return None
        return pm.check(plan.presupposition.claim, hits, self.index)

    def _topic_nouns(self, plan: Plan) -> tuple[str, ...]:
        """The question's nouns that the essays use (what it is about), for the composer to stay on that topic;
        a paraphrase's own nouns (风浪, 老百姓) are not in the text and cannot be required."""
        return tuple(t.word for t in self.evidence.terms(plan.standalone)
                     if t.flag.startswith("n") and len(t.word) >= 2 and t.word in self.evidence.corpus_text)

    def _covered_without_filters(self, plan: Plan) -> bool:
        """Would the question be covered with the filters off (so the filter, not the corpus, is the gap)?"""
        hits = self._search(plan.standalone)
        relevance = self.retriever.relevance(plan.standalone, hits) if hits else 0.0
        return self.evidence.covered(relevance, self.evidence.coverage(plan.standalone, hits), plan.standalone,
                                     hits, strict=True)

    def _refuse_filtered(self, q: str, plan: Plan, author: str | None, hits: list[Hit],
                         timer: _Timer) -> Iterator[Delta | Answer]:
        scope = (f"所选文章《{plan.filter_essay.title}》（{plan.filter_essay.author}）" if plan.filter_essay
                 else f"所选作者{author}的文章")
        text = prompts.phrase("refusal_filtered", scope=scope)
        yield from self._fixed(q, plan.standalone, text, timer, refused=True, hits=hits)

    def _notes(self, plan: Plan) -> list[str]:
        """One-line notices about how the question was read: English asked of Chinese essays, a dropped filter."""
        notes = []
        if plan.language != "zh":
            notes.append(prompts.phrase("english_notice"))
        if plan.filter_conflict and plan.filter_essay is not None:
            notes.append(prompts.phrase("filter_conflict", author=plan.filter_author or "",
                                        essay=f"《{plan.filter_essay.title}》", writer=plan.filter_essay.author))
        return notes

    def _meta(self, q: str, plan: Plan, timer: _Timer) -> Iterator[Delta | Answer]:
        essay = plan.essay
        assert essay is not None
        chunks = self._essay_chunks(essay)
        timer.lap("retrieve")
        if not chunks:
            yield from self._refuse(q, plan.standalone, [], timer)
            return
        hits = [Hit(chunk=chunks[0], score=1.0, rank=0)]
        aff = re.sub(r"^[（(]?\s*作者系|[）)]\s*$", "", essay.affiliation).strip()
        text = f"《{essay.title}》的作者是{essay.author}"
        text += f"，{aff}[1]。" if aff else "[1]。"
        yield from self._finish_extractive(q, plan.standalone, text, hits, timer, "")

    def _summary(self, q: str, plan: Plan, timer: _Timer) -> Iterator[Delta | Answer]:
        essay = plan.essay
        assert essay is not None
        chunks = self._essay_chunks(essay)
        hits = [Hit(chunk=c, score=1.0, rank=i) for i, c in enumerate(chunks)]
        timer.lap("retrieve")
        if self.chat is None:
            composed = ex.summarize_essay(essay, hits, self.index, self._lookup)
            yield from self._finish_extractive(q, plan.standalone, composed.text, composed.hits, timer,
                                               prompts.phrase("extractive_notice"))
            return
        batches = _batches(chunks, self.summary_budget)
        if len(batches) == 1:
            user = prompts.render("summary_essay", author=src.fence(essay.author, one_line=True),
                                  title=src.fence(essay.title, one_line=True), question=_fence(q),
                                  sources=_format_sources(hits))
            messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]
            yield from self._generate(q, plan.standalone, messages, hits, timer,
                                      lambda: ex.summarize_essay(essay, hits, self.index, self._lookup),
                                      allow_refusal=False)
            return
        # map: each batch of sections summarised on its own, markers numbered globally; reduce: concatenation
        parts: list[str] = []
        usage: dict[str, int] = {}
        offset = 0
        try:
            for batch in batches:
                user = prompts.render("summary_map", author=src.fence(essay.author, one_line=True),
                                      title=src.fence(essay.title, one_line=True),
                                      sources=_format_sources([Hit(c, 1.0) for c in batch], start=offset + 1))
                messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]
                parts.append("".join(self.chat.stream(messages, max_tokens=min(400, self.settings.max_tokens))))
                for key, v in self.chat.last_usage.items():
                    usage[key] = usage.get(key, 0) + v
                offset += len(batch)
        except LLMConfigError:
            raise
        except LLMError as exc:
            yield from self._fallback_or_error(q, plan.standalone, hits, timer, exc,
                                               lambda: ex.summarize_essay(essay, hits, self.index, self._lookup))
            return
        timer.lap("generate")
        raw = f"{essay.author}《{essay.title}》按章节概括如下：\n" + "\n".join(p.strip() for p in parts)
        yield from self._finish_raw(q, plan.standalone, raw, hits, timer, usage=usage)

    def _topic(self, q: str, plan: Plan, timer: _Timer) -> Iterator[Delta | Answer]:
        per_essay: dict[str, list[Hit]] = {}
        topic = ex.strip_topic_scaffold(plan.standalone, [e.author for e in self.essays])
        if not re.search(r"[^\W_]", topic):
            topic = plan.standalone
        wanted = plan.essays or self.essays
        ranked = self._search(topic, k=max(40, 3 * len(wanted)))  # one query embedding, then split by essay
        for e in wanted:
            own = [h for h in ranked if h.chunk.essay_id == e.id][:3]
            per_essay[e.id] = own or self._search(topic, essay=e, k=3)
        timer.lap("retrieve")
        composed = ex.summarize_topic(plan.standalone, per_essay, self.index, self._lookup)
        all_hits = [h for hs in per_essay.values() for h in hs]
        if composed.best == 0.0:
            yield from self._refuse(q, plan.standalone, all_hits, timer)
            return
        if self.chat is None:
            yield from self._finish_extractive(q, plan.standalone, composed.text, composed.hits, timer,
                                               prompts.phrase("extractive_notice"))
            return
        user = prompts.render("summary_topic", question=_fence(plan.standalone), sources=src.prompt_sources(
            all_hits, plan.standalone, src.source_budget(self.settings.source_tokens, self.backend), keep_all=True))
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]
        yield from self._generate(q, plan.standalone, messages, all_hits, timer, lambda: composed,
                                  allow_refusal=False)

    def _overview(self, q: str, plan: Plan, timer: _Timer) -> Iterator[Delta | Answer]:
        """What the essays are about, one thesis per essay, grouped by author."""
        hits: list[Hit] = []
        for e in plan.essays:
            hits.extend(Hit(chunk=c, score=1.0, rank=i) for i, c in enumerate(self._essay_chunks(e)[:1]))
        timer.lap("retrieve")
        composed = ex.overview(plan.essays, hits, self.index, self._lookup)
        if self.chat is None:
            yield from self._finish_extractive(q, plan.standalone, composed.text, composed.hits, timer,
                                               prompts.phrase("extractive_notice"))
            return
        user = prompts.render("summary_topic", question=_fence(plan.standalone),
                              sources=_format_sources(composed.hits))
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]
        yield from self._generate(q, plan.standalone, messages, composed.hits, timer, lambda: composed,
                                  allow_refusal=False)

    # ----------------------------------------------------------------------------------------- generation

    def _generate(self, q: str, standalone: str, messages: list[dict[str, str]], hits: list[Hit], timer: _Timer,
                  extractive: Callable[[], ex.Composed], allow_refusal: bool) -> Iterator[Delta | Answer]:
        assert self.chat is not None
        cleaner = cit.StreamCleaner([h.chunk for h in hits])
        timer.lap("prompt")
        yield Delta("", stage="generating")
        first = True
        try:
            # a CPU model's answer length is most of its time: it may ask for a shorter cap (max_answer_tokens)
            cap = getattr(self.chat, "max_answer_tokens", None) or self.settings.max_tokens
            for piece in self.chat.stream(messages, max_tokens=min(cap, self.settings.max_tokens)):
                if first:
                    timer.lap("first_token")
                    timer.ms["to_first_token"] = (time.perf_counter() - timer.start) * 1000  # what the user waits
                    first = False
                out = cleaner.feed(piece)
                if out:
                    if self._leaks(cleaner.emitted):
                        yield from self._fixed(q, standalone, prompts.phrase("decline"), timer, refused=True,
                                               prefix_emitted=True)
                        return
                    yield Delta(out)
        except LLMConfigError:
            raise
        except LLMError as exc:
            if not cleaner.raw.strip():
                yield from self._fallback_or_error(q, standalone, hits, timer, exc, extractive)
                return
            tail = cleaner.finish()
            if tail:
                yield Delta(tail)
            marker = prompts.phrase("partial_marker")
            yield Delta("\n" + marker)
            # a partial answer is checked too (repeats, unsupported sentences), but kept as partial: no fallback
            verdict = verify.verify(cleaner.emitted, cleaner.markers.cited(), standalone,
                                    sources=[h.chunk for h in hits],
                                    passages={n: c.text + self._byline(c) for n, c in cleaner.markers.cited()})
            checked = self._check(verdict.text + "\n" + marker, verdict.cited, hits)
            final = self._answer(q, standalone, checked.text, False, checked.citations, hits, timer,
                                 error=str(exc))
            final.replaced = bool(verdict.dropped)
            yield final
            return
        tail = cleaner.finish()
        timer.lap("generate")
        usage = dict(self.chat.last_usage)
        if self._leaks(cleaner.emitted):
            yield from self._fixed(q, standalone, prompts.phrase("decline"), timer, refused=True, prefix_emitted=True)
            return
        if tail:
            yield Delta(tail)
        text = cleaner.emitted.strip()
        if not cleaner.markers.cited():
            text = cit.cite_uncited(text, cleaner.markers)
        if allow_refusal and _model_refused(text, cited=bool(cleaner.markers.cited())):
            if self._covered_strictly(standalone, hits):
                # the model gave up on a question the offline answer handles (about one in five answerable
                # questions with the 1.5B model): show the quoted answer instead of a wrong refusal
                composed = extractive()
                yield from self._finish_extractive(q, standalone, composed.text, composed.hits, timer,
                                                   verify.refusal_notice(), replaced=True, usage=usage)
                return
            suffix = self._topics_suffix(hits)
            if suffix:
                yield Delta(suffix)
            yield self._answer(q, standalone, prompts.phrase("refusal") + suffix, True, [], hits, timer, usage=usage)
            return
        text = _drop_refusal_sentence(text) if cleaner.markers.cited() else text
        verdict = verify.verify(text, cleaner.markers.cited(), standalone, sources=[h.chunk for h in hits],
                                prompt_text="\n".join(m["content"] for m in messages),
                                passages={n: c.text + self._byline(c) for n, c in cleaner.markers.cited()})
        timer.lap("verify")
        if verdict.fallback:
            composed = extractive()
            yield from self._finish_extractive(q, standalone, composed.text, composed.hits, timer, verdict.notice,
                                               replaced=True, usage=usage)
            return
        checked = self._check(verdict.text, verdict.cited, hits)
        final = self._answer(q, standalone, checked.text, False, checked.citations, hits, timer, usage=usage,
                             notice=verdict.notice)
        # sentences the stream showed were withdrawn (markers added in code are not a withdrawal)
        final.replaced = verdict.changed
        yield final

    def _covered_strictly(self, standalone: str, hits: list[Hit]) -> bool:
        """Would the offline answer's (strict) coverage gate answer this question from these hits?"""
        if not hits:
            return False
        relevance = self.retriever.relevance(standalone, hits)
        coverage = self.evidence.coverage(standalone, hits)
        # every salient word of the question in the passages too: “绿色标准体系由哪个部门制定” passes the gate on
        # 绿色标准体系, but no passage names a 部门, so the model's refusal is right there
        return not coverage.missing and bool(self.evidence.covered(relevance, coverage, standalone, hits,
                                                                    strict=True))

    def _byline(self, chunk: Chunk) -> str:
        essay = next((e for e in self.essays if e.id == chunk.essay_id), None)
        return f"{essay.author}《{essay.title}》{essay.affiliation}" if essay is not None else ""

    def _finish_raw(self, q: str, standalone: str, raw: str, hits: list[Hit], timer: _Timer,
                    usage: dict[str, int] | None = None) -> Iterator[Delta | Answer]:
        markers = cit.MarkerMap([h.chunk for h in hits])
        text = markers.apply(cit.sanitize(raw)).strip()
        if self._leaks(text):
            yield from self._fixed(q, standalone, prompts.phrase("decline"), timer, refused=True)
            return
        verdict = verify.verify(text, markers.cited(), standalone, sources=[h.chunk for h in hits],
                                passages={n: c.text + self._byline(c) for n, c in markers.cited()})
        checked = self._check(verdict.text, verdict.cited, hits)
        yield Delta(checked.text)
        yield self._answer(q, standalone, checked.text, False, checked.citations, hits, timer, usage=usage or {},
                           notice=verdict.notice)

    def _fallback_or_error(self, q: str, standalone: str, hits: list[Hit], timer: _Timer, exc: LLMError,
                           extractive: Callable[[], ex.Composed]) -> Iterator[Delta | Answer]:
        if isinstance(exc, LLMUnavailableError) and self.fallback:
            composed = extractive()
            notice = prompts.phrase("fallback_notice_local" if self.backend == "local" else "fallback_notice")
            yield from self._finish_extractive(q, standalone, composed.text, composed.hits, timer, notice,
                                               backend="extractive", error=str(exc))
            return
        message = str(exc)
        yield Delta(message)
        yield self._answer(q, standalone, message, False, [], hits, timer, error=message)

    def _finish_extractive(self, q: str, standalone: str, text: str, hits: list[Hit], timer: _Timer, notice: str,
                           backend: str = "extractive", error: str = "", replaced: bool = False,
                           usage: dict[str, int] | None = None,
                           premise: pm.PremiseCheck | None = None) -> Iterator[Delta | Answer]:
        markers = cit.MarkerMap([h.chunk for h in hits])
        text = markers.apply(cit.sanitize(text)).strip()
        checked = self._check(text, markers.cited(), hits)
        timer.lap("generate")
        if not replaced:
            yield Delta(checked.text)
        final = self._answer(q, standalone, checked.text, False, checked.citations, hits, timer, notice=notice,
                             backend=backend, model="extractive", error=error, usage=usage,
                             premise=premise.to_dict() if premise else None)
        # replaced: the streamed model text is withdrawn; consumers show `answer` in its place
        final.replaced = replaced
        yield final

    def _check(self, text: str, cited: list[tuple[int, Chunk]], hits: list[Hit]) -> cit.Checked:
        byline = {e.id: f"{e.author}《{e.title}》{e.affiliation}" for e in self.essays}
        augmented = [(n, replace(c, text=c.text + byline.get(c.essay_id, ""))) for n, c in cited]
        checked = cit.check(text, augmented)
        originals = dict(cited)
        fixed = [Citation(c.n, originals[c.n], c.supported, c.sentences) for c in checked.citations]
        # a marker whose source ends up with no citation (its sentence was empty) points nowhere: remove it
        shown = {c.n for c in fixed}
        text = re.sub(r"\[(\d{1,3})\]", lambda m: m.group(0) if int(m.group(1)) in shown else "", checked.text)
        return cit.Checked(text, fixed)

    def _refuse(self, q: str, standalone: str, hits: list[Hit], timer: _Timer,
                topics: bool = True) -> Iterator[Delta | Answer]:
        text = prompts.phrase("refusal") + (self._topics_suffix(hits) if topics else "")
        yield from self._fixed(q, standalone, text, timer, refused=True, hits=hits)

    def _topics_suffix(self, hits: Sequence[Hit]) -> str:
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

    def _fixed(self, q: str, standalone: str, text: str, timer: _Timer, refused: bool, hits: Sequence[Hit] = (),
               prefix_emitted: bool = False) -> Iterator[Delta | Answer]:
        if prefix_emitted:
            yield Delta("\n")
        yield Delta(text)
        yield self._answer(q, standalone, text, refused, [], list(hits), timer)

    def _answer(self, q: str, standalone: str, text: str, refused: bool, citations: list[Citation],
                hits: list[Hit], timer: _Timer, *, usage: dict[str, int] | None = None, notice: str = "",
                backend: str | None = None, model: str | None = None, error: str = "",
                premise: dict[str, str] | None = None) -> Answer:
        timer.total()
        return Answer(
            question=q, standalone_question=standalone, answer=text, refused=refused, citations=citations,
            retrieved=hits, backend=backend or self.backend,
            model=model or (self.chat.model if self.chat is not None else "extractive"),
            usage=usage or {}, timings_ms=timer.ms, notice=notice, error=error, premise=premise or {},
        )

    def _leaks(self, text: str) -> bool:
        compact = re.sub(r"\s", "", text)
        return any(compact[i:i + _LEAK_N] in self._leak_grams for i in range(max(0, len(compact) - _LEAK_N + 1)))


_LEAK_N = 12


def _leak_grams(system_prompt: str) -> set[str]:
    """12-character windows of the system prompt, minus the sentences the assistant may legitimately say."""
    text = re.sub(r"\s", "", system_prompt)
    for allowed in (prompts.phrase("refusal"), prompts.phrase("decline")):
        text = text.replace(re.sub(r"\s", "", allowed), "\n")
    grams: set[str] = set()
    for part in text.split("\n"):
        grams.update(part[i:i + _LEAK_N] for i in range(max(0, len(part) - _LEAK_N + 1)))
    return grams


def _model_refused(text: str, cited: bool = False) -> bool:
    """Did the model refuse? A cited answer only if it opens with the refusal sentence; an uncited one if it
    contains it anywhere or is a short "not covered" reply."""
    core = re.sub(r"\s|\[\d+\]", "", text)
    head = re.sub(r"\s", "", prompts.phrase("refusal"))[:10]
    if cited:
        return core.startswith(head)
    return head in core or (len(core) < 60 and re.search(r"没有涉及|无法根据|未提及|没有提到", core) is not None)


def _drop_refusal_sentence(text: str) -> str:
    """A cited answer that also tacks on the refusal sentence: keep the answer, drop the contradiction."""
    head = prompts.phrase("refusal").strip()[:10]
    i = text.find(head)
    return text[:i].rstrip() if i > 0 else text


def _fence(text: str) -> str:
    """Keep user or document text from closing our delimiters (look-alike brackets and spaces included)."""
    return src.fence(text)


def _format_sources(hits: Sequence[Hit], start: int = 1) -> str:
    return src.format_sources(hits, start=start)


def _batches(chunks: Sequence[Chunk], budget: int) -> list[list[Chunk]]:
    batches: list[list[Chunk]] = [[]]
    used = 0
    for c in chunks:
        t = count_tokens(c.text) + 40
        if batches[-1] and used + t > budget:
            batches.append([])
            used = 0
        batches[-1].append(c)
        used += t
    return batches


class _Timer:
    """Per-stage wall-clock timings in milliseconds."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.ms: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + (now - self.last) * 1000
        self.last = now

    def total(self) -> None:
        self.ms["total"] = (time.perf_counter() - self.start) * 1000
