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
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import prompts
from rag import citations as cit
from rag import extractive as ex
from rag import sources as src
from rag import verify
from rag.config import Settings
from rag.errors import InputError, LLMConfigError, LLMError, LLMUnavailableError
from rag.evidence import EvidenceModel
from rag.llm import ChatModel
from rag.tokens import count_tokens
from rag.types import Answer, Chunk, Citation, Delta, Essay, Hit, Turn

Progress = Callable[[str], None]
SUMMARY_INPUT_TOKENS = 3000  # one essay of the seed page fits; longer essays are summarised in batches


class Retriever(Protocol):
    """What the answer layer needs from retrieval."""

    @property
    def essays(self) -> list[Essay]: ...

    def search(self, question: str, k: int | None = None, author: str | None = None, essay: str | None = None,
               mode: str = "hybrid") -> list[Hit]: ...

    def relevance(self, question: str, hits: Sequence[Hit]) -> float: ...


# Zero-width and bidi controls are invisible and can hide instructions; other control characters are junk.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_EXTRACTION = re.compile(
    r"系统提示|提示词|system\s*prompt|系统(设定|指令|消息)|初始(指令|设定)|"
    r"(忽略|无视|忘记|绕过|跳过|忘掉)(掉)?(之前|以上|上面|前面|上述|所有|全部|你的|这些)?的?(所有|全部)?的?(指令|规则|要求|设定|限制|提示|对话)|"
    r"ignore\s+(all\s+|the\s+|your\s+|previous\s+|above\s+|prior\s+)*(instructions|rules|prompts?)|"
    r"调试模式|开发者模式|developer\s*mode|越狱|jailbreak|没有任何限制|不受(任何)?限制|重复你收到|"
    r"你收到的[^。？?]{0,6}(指令|消息|提示)|(你的|你使用的|你收到的)(全部|所有)?(设定|指令|规则|配置|提示|密钥)|"
    r"API[\s_-]*KEY|API\s*密钥",
    re.I,
)
_FOLLOWUP = re.compile(
    r"^(那|那么|还有|另外|此外|以及|然后)|他|她|它|其中|该文|该作者|这位|这篇|那篇|本文|文中|上文|上面|刚才|前面|这一点|"
    r"这方面|这些|这个|第[一二三四五六七八九十\d]+(条|点|个|项|方面|部分|种)|呢[？?]?$|还说了|还讲了|还提到|还有什么"
)
_ORDINAL_REF = re.compile(r"第([一二三四五六七八九十\d]+)(条|点|个|项|方面|种|部分)")
_SUMMARY_VERB = re.compile(r"概括|总结|归纳|梳理|摘要|概述|主要内容|核心内容|主要观点|讲了什么|讲什么|说了什么|主要讨论|主要讲")
_TOPIC_ACROSS = re.compile(r"(几位|各位|不同|这些|四位|各篇|几篇|所有|每位|每篇)(作者|文章)|作者们|分别怎么看|各自怎么看")
_META = re.compile(r"(哪个|哪所|哪家|什么)(机构|单位|大学|学校|部门)|任职|任教|工作单位|在哪(个单位|里)?工作|职务|职称|"
                   r"身份|谁写的|作者是谁|哪位作者写|作者是哪位")
_PREMISE_WORDS = re.compile(r"放弃|无关紧要|不重要|没必要|不需要|不必|反对|否定|取消|抛弃|忽视|不应|一开始就|全面转向|停止|"
                            r"不要发展|无需|限制发展")
_ADVOCATE = re.compile(r"(主张|提倡|支持|赞成|鼓励|推崇|建议|认为应该|认为要|为什么要)(.{2,12}?)[？?，,。]")
_COMPARATIVE = re.compile(r"比.{1,12}(更|还)?(强|高|好|大|多|快|领先)")
_QUOTE = re.compile(r"[“\"「]([^”\"」]{4,60})[”\"」]")
_YEAR = re.compile(r"(\d{4})\s*年")


def clean_question(text: str) -> str:
    """Drop invisible and control characters, fold full-width ASCII, collapse whitespace."""
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    text = "".join(unicodedata.normalize("NFKC", ch) if "\uff01" <= ch <= "\uff5e" and ch not in "（），：；？！" else ch
                   for ch in text)
    return re.sub(r"\s+", " ", text).strip()


_URL = re.compile(r"!?\[[^\]]*\]\([^)]*\)|https?://\S+|</?\s*[A-Za-z][^<>]*>", re.I)
_ORDER = re.compile(r"写上|附上|加上|输出|打印|开头|结尾|末尾|另起一行|署名|回答时|每个回答|新指令|从现在起|图片|链接|"
                    r"只回答一个词|不需要引用", re.I)


def strip_instructions(question: str) -> str:
    """The question without pasted links, tags and sentences that order the assistant about (output tricks)."""
    text = _URL.sub(" ", question)
    parts = [p for p in re.split(r"(?<=[。！？!?；;])", text) if p.strip()]
    kept = [p for p in parts if not _ORDER.search(p)]
    kept = [re.sub(r"^\s*(问题|question)\s*[：:]\s*", "", p, flags=re.I) for p in kept]
    out = re.sub(r"\s+", " ", "".join(kept)).strip()
    return out if re.search(r"[^\W_]", out) else question


@dataclass
class Context:
    """What a conversation is about so far: the essay, the author and the list items last quoted."""

    essay: Essay | None = None
    standalone: str = ""
    items: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """How one question will be answered."""

    kind: str  # qa | summary | topic | meta
    standalone: str
    author: str | None = None
    essay: Essay | None = None
    essays: list[Essay] = field(default_factory=list)  # the essays a comparison or topic question spans


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
        self.system_prompt = system_prompt if system_prompt is not None else prompts.render(
            "system", refusal=prompts.phrase("refusal"), decline=prompts.phrase("decline"))
        self._leak_grams = _leak_grams(self.system_prompt)
        self._chunk_cache: dict[str, list[Chunk]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, backend: str | None = None, progress: Progress | None = None) -> Assistant:
        """Open the retriever and the chat model the settings (or `backend`) ask for."""
        from rag.retrieve import open_retriever

        retriever = open_retriever(settings, progress=progress)
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
        if _EXTRACTION.search(q):
            yield from self._fixed(q, q, prompts.phrase("decline"), timer, refused=True)
            return
        plan = self._plan(q, history, author, essay, timer)
        if _EXTRACTION.search(plan.standalone):
            yield from self._fixed(q, plan.standalone, prompts.phrase("decline"), timer, refused=True)
            return
        if not history and plan.kind == "qa" and _FOLLOWUP.search(q) and not self.evidence.terms(
                _FOLLOWUP.sub(" ", q)):
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
            yield from self._qa(q, plan, timer, essay_filter=essay)

    # ----------------------------------------------------------------------------------------- input

    def _check_input(self, question: str) -> str:
        q = clean_question(question or "")
        if not q or not re.search(r"[^\W_]", q):
            raise InputError(prompts.phrase("empty_question"))
        limit = self.settings.max_question_tokens
        if len(q) > limit * 8:  # far beyond any encoding's chars-per-token: skip the full count
            raise InputError(prompts.phrase("question_too_long", tokens=f"{len(q) // 4}+", limit=limit))
        tokens = count_tokens(q)
        if tokens > limit:
            raise InputError(prompts.phrase("question_too_long", tokens=tokens, limit=limit))
        return q

    # ----------------------------------------------------------------------------------------- planning

    def _mentions(self, text: str) -> tuple[list[Essay], Essay | None]:
        """Essays whose author is named in `text`, and the essay whose title is quoted or named."""
        by_author = [e for e in self.essays if e.author and e.author in text]
        titled = None
        for m in re.finditer(r"《([^》]{2,60})》", text):
            titled = self._essay_by_title(m.group(1)) or titled
        if titled is None:
            for e in self.essays:
                if len(e.title) >= 6 and e.title in text:
                    titled = e
        return by_author, titled

    def _essay_by_title(self, title: str) -> Essay | None:
        best, best_score = None, 0.0
        tg = set(ex.bigrams(title))
        for e in self.essays:
            eg = set(ex.bigrams(e.title))
            score = len(tg & eg) / max(1, len(tg | eg))
            if score > best_score:
                best, best_score = e, score
        return best if best_score >= 0.5 else None

    def _essay_filter(self, essay: str | None) -> Essay | None:
        if not essay:
            return None
        for e in self.essays:
            if essay in (e.id, e.title) or essay in e.title:
                return e
        return self._essay_by_title(essay)

    def _plan(self, q: str, history: Sequence[Turn], author: str | None, essay: str | None, timer: _Timer) -> Plan:
        ctx = self._context(history)
        q = strip_instructions(q)
        standalone = q
        if ctx.essay is not None or ctx.standalone:
            standalone = self._rewrite(q, history, ctx)
        timer.lap("rewrite")
        authors, titled = self._mentions(standalone)
        chosen_essay = self._essay_filter(essay) or titled
        if chosen_essay is None and author:
            chosen_essay = next((e for e in self.essays if e.author == author), None)
        if chosen_essay is None and len(authors) == 1:
            chosen_essay = authors[0]
        plan_author = author or (authors[0].author if len(authors) == 1 else None)
        if len(authors) >= 2 and titled is None and not essay and not author:
            return Plan("topic", standalone, essays=authors)
        if _META.search(standalone) and (chosen_essay is not None or authors):
            return Plan("meta", standalone, plan_author, chosen_essay or authors[0])
        if _TOPIC_ACROSS.search(standalone) and len(self.essays) > 1 and chosen_essay is None:
            return Plan("topic", standalone)
        if _SUMMARY_VERB.search(standalone) and chosen_essay is not None and self._is_whole_essay(standalone,
                                                                                                 chosen_essay):
            return Plan("summary", standalone, plan_author, chosen_essay)
        if chosen_essay is None and len(self.essays) > 1 and re.search(
                r"(这|几|四|五|三|两|所有|各)(篇|些)文章", standalone) and re.search(
                r"共同|主题|主要内容|讲了什么|关注|概括|总结|归纳", standalone):
            return Plan("overview", standalone, essays=self.essays)
        return Plan("qa", standalone, plan_author, chosen_essay)

    def _is_whole_essay(self, q: str, essay: Essay) -> bool:
        """True when, after removing the essay's name and summary words, little topic is left."""
        rest = q.replace(essay.title, "").replace(essay.author, "")
        rest = _SUMMARY_VERB.sub("", rest)
        rest = re.sub(r"《[^》]*》|请|一下|用|几句话|简要|简单|地|的|文章|这篇|该文|一文|全文|还|了|什么|主要|核心|内容|观点|"
                      r"讨论|讲|说|呢|吗|她|他|[\W_\d]", "", rest)
        return len(rest) <= 3

    def _context(self, history: Sequence[Turn]) -> Context:
        """Replay the conversation to know the last essay, author and quoted list items."""
        ctx = Context()
        for turn in history:
            if turn.role == "user":
                q = clean_question(turn.content)
                if not q or _EXTRACTION.search(q):
                    continue
                resolved = self._rewrite_heuristic(q, ctx) if (ctx.essay or ctx.standalone) else q
                authors, titled = self._mentions(resolved)
                if titled is not None:
                    ctx.essay = titled
                elif len(authors) == 1:
                    ctx.essay = authors[0]
                ctx.standalone = resolved
            else:
                items = _list_items(turn.content)
                if items:
                    ctx.items = items
                authors, titled = self._mentions(turn.content)
                named = titled or (authors[0] if authors else None)
                if named is not None and (ctx.essay is None or ctx.essay.author not in turn.content):
                    ctx.essay = named
        return ctx

    def _looks_followup(self, q: str, ctx: Context) -> bool:
        authors, titled = self._mentions(q)
        if _ORDINAL_REF.search(q) and ctx.items:
            return True
        if _FOLLOWUP.search(q):
            return True
        return len(q) <= 6 and not authors and titled is None

    def _rewrite(self, q: str, history: Sequence[Turn], ctx: Context) -> str:
        if not self._looks_followup(q, ctx):
            return q
        if self.chat is not None:
            try:
                rewritten = self._rewrite_with_model(q, history)
            except LLMConfigError:
                raise
            except LLMError:
                rewritten = ""
            if rewritten:
                return rewritten
        return self._rewrite_heuristic(q, ctx)

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
        if not out or len(out) > 200 or _EXTRACTION.search(out):
            return ""
        return out

    def _rewrite_heuristic(self, q: str, ctx: Context) -> str:
        """Carry the previous turn's essay, author and list over into a follow-up question."""
        essay = ctx.essay
        if essay is None:
            return q
        authors, titled = self._mentions(q)
        m = _ORDINAL_REF.search(q)
        if m and ctx.items:
            n = _cn_int(m.group(1))
            if 1 <= n <= len(ctx.items):
                item = re.sub(r"^[一二三四五六七八九十]是", "", ctx.items[n - 1]).strip()
                rest = q[m.end():]
                rest = re.sub(r"^(是|的)?", "", rest)
                rest = re.sub(r"^[呢吗？?。\s]*$", "", rest)
                ask = rest if rest else "具体是怎么论述的？"
                return f"{essay.author}文章中的“{item}”{ask}"
        if re.search(r"还说了|还讲了|还提到|还有什么|其他内容|别的内容", q) and not authors and titled is None:
            return f"概括{essay.author}的文章《{essay.title}》"
        if authors and not titled and re.fullmatch(r"[^，。？?]{0,8}(呢|怎么看|如何看|的看法呢|的观点呢)[？?]?", q) and \
                ctx.standalone:
            prev = ctx.standalone
            if essay.author in prev:
                return prev.replace(essay.author, authors[0].author)
            return f"{authors[0].author}：{prev}"
        topic = self.evidence.topic(ctx.standalone) if ctx.standalone else ""
        if topic:
            q = re.sub(r"这方面|那方面|这一点|这个问题|这些领域|这个话题", f"{topic}方面", q, count=1)
            q = re.sub(r"^(那|那么)?它", f"{topic}", q, count=1)
        if authors or titled is not None:
            return q
        q2 = re.sub(r"该作者|这位作者|作者|他们|她们|他|她", essay.author, q, count=1)
        q2 = re.sub(r"这篇文章|这篇|该文|本文|文中|那篇文章", f"《{essay.title}》", q2, count=1)
        if q2 == q:
            q2 = re.sub(r"^(那|那么|还有|另外|此外|然后)", "", q2)
            q2 = re.sub(r"它", "", q2) if "它" in q2 and ctx.standalone else q2
            return f"{essay.author}文章中，{q2}"
        return q2

    # ----------------------------------------------------------------------------------------- retrieval helpers

    def _essay_chunks(self, essay: Essay) -> list[Chunk]:
        """Every chunk of an essay in reading order (cached)."""
        if essay.id not in self._chunk_cache:
            every = getattr(self.retriever, "chunks", None)
            if callable(every):
                every = every()
            if isinstance(every, list):
                chunks = [c for c in every if c.essay_id == essay.id]
            else:
                hits = self.retriever.search(essay.title, k=500, essay=essay.id)
                chunks = [h.chunk for h in hits if h.chunk.essay_id == essay.id]
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

    def _qa(self, q: str, plan: Plan, timer: _Timer, essay_filter: str | None) -> Iterator[Delta | Answer]:
        filtered_essay = self._essay_filter(essay_filter) if essay_filter else None
        hits = self._search(plan.standalone, author=plan.author, essay=filtered_essay)
        timer.lap("retrieve")
        premise = self._premise(plan, hits)
        if premise is not None and premise.hits:
            hits = premise.hits
        relevance = self.retriever.relevance(plan.standalone, hits) if hits else 0.0
        coverage = self.evidence.coverage(plan.standalone, hits)
        covered = premise is not None or self.evidence.covered(relevance, coverage, plan.standalone, hits,
                                                               strict=self.chat is None)
        timer.lap("gate")
        if not covered:
            yield from self._refuse(q, plan.standalone, hits, timer)
            return
        if self.chat is None:
            composed = ex.compose_answer(self._topic_of(plan.standalone), hits, self.index, self._lookup)
            text = composed.text
            if premise is not None:
                text = f"{prompts.phrase('premise_intro')}{premise.explanation}文章的表述是：\n{text}"
            yield from self._finish_extractive(q, plan.standalone, text, composed.hits, timer,
                                               prompts.phrase("extractive_notice"))
            return
        note = ""
        if premise is not None:
            note = "注意：问题中的说法可能与资料不符，请先根据资料指出并纠正，再回答。"
        sources = src.prompt_sources(hits, plan.standalone, src.source_budget(self.settings.source_tokens,
                                                                              self.backend))
        user = prompts.render("answer", sources=sources, question=_fence(plan.standalone), note=note,
                              refusal=prompts.phrase("refusal"))
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}]
        yield from self._generate(q, plan.standalone, messages, hits, timer, lambda: ex.compose_answer(
            plan.standalone, hits, self.index, self._lookup), allow_refusal=premise is None)

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

    # ----------------------------------------------------------------------------------------- premises

    def _premise(self, plan: Plan, hits: list[Hit]) -> _Premise | None:
        """Detect a question built on something the essays contradict; return the evidence to correct it."""
        q = plan.standalone
        # a quotation attributed to the wrong author
        for m in _QUOTE.finditer(q):
            quote = re.sub(r"\s", "", m.group(1))
            for e in self.essays:
                if quote in e.text.replace("\n", "") and plan.author and e.author != plan.author:
                    found = self._search(quote, essay=e, k=self.settings.top_k)
                    return _Premise(f"这句话出自{e.author}的《{e.title}》，而不是{plan.author}的文章。", found)
        if not hits:
            return None
        top_text = "".join(h.chunk.text for h in hits[:3])
        years = _YEAR.findall(q)
        if years and any(y not in self.evidence.corpus_text for y in years):
            other = [y for y in _YEAR.findall(top_text) if y not in years]
            if other and self.evidence.coverage(_YEAR.sub("", q), hits).score >= 0.5:
                return _Premise(f"文章中的时间是{other[0]}年，而不是{years[0]}年。", [])
        pm = _PREMISE_WORDS.search(q)
        if pm and pm.group(0) not in top_text and self.evidence.coverage(q.replace(pm.group(0), ""), hits).score >= 0.5:
            return _Premise("", [])
        am = _ADVOCATE.search(q)
        if am:
            claim = am.group(2)
            for h in hits[:4]:
                for s in ex.split_sentences(h.chunk.text):
                    if claim[:4] in s[1] and re.search(r"西方|过去|避免|摒弃|而非|不是|告别|经历了|防止|降低|减少", s[1]):
                        return _Premise("", [])
        if _COMPARATIVE.search(q) and re.search(r"差距|欠发达|落后|不足|薄弱", top_text):
            return _Premise("", [])
        return None

    # ----------------------------------------------------------------------------------------- generation

    def _generate(self, q: str, standalone: str, messages: list[dict[str, str]], hits: list[Hit], timer: _Timer,
                  extractive: Callable[[], ex.Composed], allow_refusal: bool) -> Iterator[Delta | Answer]:
        assert self.chat is not None
        cleaner = cit.StreamCleaner([h.chunk for h in hits])
        timer.lap("prompt")
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
            text = cleaner.emitted + "\n" + marker
            checked = self._check(text, cleaner.markers.cited(), hits)
            yield self._answer(q, standalone, checked.text, False, checked.citations, hits, timer,
                               error=str(exc))
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
                           usage: dict[str, int] | None = None) -> Iterator[Delta | Answer]:
        markers = cit.MarkerMap([h.chunk for h in hits])
        text = markers.apply(cit.sanitize(text)).strip()
        checked = self._check(text, markers.cited(), hits)
        timer.lap("generate")
        if not replaced:
            yield Delta(checked.text)
        final = self._answer(q, standalone, checked.text, False, checked.citations, hits, timer, notice=notice,
                             backend=backend, model="extractive", error=error, usage=usage)
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

    def _refuse(self, q: str, standalone: str, hits: list[Hit], timer: _Timer) -> Iterator[Delta | Answer]:
        text = prompts.phrase("refusal") + self._topics_suffix(hits)
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
                backend: str | None = None, model: str | None = None, error: str = "") -> Answer:
        timer.total()
        return Answer(
            question=q, standalone_question=standalone, answer=text, refused=refused, citations=citations,
            retrieved=hits, backend=backend or self.backend,
            model=model or (self.chat.model if self.chat is not None else "extractive"),
            usage=usage or {}, timings_ms=timer.ms, notice=notice, error=error,
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


_ITEM_LINE = re.compile(r"^\s*(?:[-•]\s*)?(?:\d+[.、]\s*|（\d+）\s*)?([一二三四五六七八九十]是)?([^。；\n]+)")


def _list_items(answer: str) -> list[str]:
    """The items of the last list in an answer: 一是…/numbered lines, else an inline enumeration A、B、C."""
    items: list[str] = []
    for line in answer.splitlines():
        if re.match(r"^\s*(?:[-•]\s*)?(\d+[.、]|（\d+）|[一二三四五六七八九十]是)", line):
            m = _ITEM_LINE.match(cit.strip_markers(line))
            if m:
                items.append(m.group(2).strip())
    if len(items) >= 2:
        return items
    best: list[str] = []
    for clause in re.split(r"[，。；：]", cit.strip_markers(answer)):
        parts = [p for p in clause.split("、") if p]
        if len(parts) >= 3 and len(parts) > len(best):
            parts[0] = re.sub(r"^.*?(表现出|包括|聚焦|有|是)", "", parts[0])
            parts[-1] = re.sub(r"(等|等特征|等方面|等领域|等产业)$", "", parts[-1])
            best = parts
    return best


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


@dataclass
class _Premise:
    explanation: str
    hits: list[Hit]


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


def _cn_int(s: str) -> int:
    if s.isdigit():
        return int(s)
    digits = "一二三四五六七八九"
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + digits.index(s[1]) + 1
    return digits.index(s[0]) + 1 if s[0] in digits else 0


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
