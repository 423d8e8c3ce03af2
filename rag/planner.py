"""Question understanding: one typed Plan per question, shared by the extractive composer and the generated path.

    from rag.planner import Planner
    plan = Planner(essays, evidence).plan("其中第二条呢？", history, author=None, essay=None)
    plan.kind, plan.ask, plan.standalone, plan.author, plan.essay, plan.presupposition

What the planner decides, without retrieval: what kind of answer is wanted (a cited answer, a summary of one
essay, a topic across essays, an overview, the byline), what the question asks for (a definition, a reason, a
way, a list, a time or number, a stance), which authors/essays/sections it refers to, what a follow-up refers
to in the conversation so far (the essay, the author, the items of the last list shown), and the claim a
question presupposes (checked against the passages by rag.premise).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from rag import citations as cit
from rag.evidence import EvidenceModel
from rag.references import HONORIFICS, ReferenceFinder
from rag.sentences import bigrams
from rag.types import Essay, Turn

Kind = Literal["qa", "summary", "topic", "meta", "overview"]
Ask = Literal["definition", "reason", "way", "list", "time", "number", "stance", "fact"]
Language = Literal["zh", "en", "mixed"]

# Zero-width and bidi controls are invisible and can hide instructions; other control characters are junk.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Requests for the assistant's own instructions or to drop its rules (declined before any retrieval).
EXTRACTION = re.compile(
    r"系统提示|提示词|system\s*prompt|系统(设定|指令|消息)|初始(指令|设定)|"
    r"(忽略|无视|忘记|绕过|跳过|忘掉)(掉)?(之前|以上|上面|前面|上述|所有|全部|你的|这些)?的?(所有|全部)?的?(指令|规则|要求|设定|限制|提示|对话)|"
    r"ignore\s+(all\s+|the\s+|your\s+|previous\s+|above\s+|prior\s+)*(instructions|rules|prompts?)|"
    r"调试模式|开发者模式|developer\s*mode|越狱|jailbreak|没有任何限制|不受(任何)?限制|重复你收到|"
    r"你收到的[^。？?]{0,6}(指令|消息|提示)|(你的|你使用的|你收到的)(全部|所有)?(设定|指令|规则|配置|提示|密钥)|"
    r"API[\s_-]*KEY|API\s*密钥",
    re.I,
)
# Words that only make sense against an earlier turn (pronouns, ordinals, "and what about…").
FOLLOWUP = re.compile(
    r"^(那|那么|还有|另外|此外|以及|然后)|他|她|它|其中|该文|该作者|这位|这篇|那篇|本文|文中|上文|上面|刚才|前面|这一点|"
    r"这方面|这些|这个|第[一二三四五六七八九十\d]+(条|点|个|项|方面|部分|种|件|类|步|大)|最后[一那这]?(条|点|个|项|方面|种|件)|"
    r"呢[？?]?$|还说了|还讲了|还提到|还谈到|还有什么|除了"
)
# An item of the list last shown: 第三条/第二个/第三件…, or 最后一条 (the last one).
ORDINAL_REF = re.compile(r"(?:第([一二三四五六七八九十\d]+)|(最后)[一那这]?)(?:条|点|个|项|方面|种|部分|件|类|步|大)")
# “What else did he say”: other content of the same essay or topic than what the conversation already showed;
# 除了X names what to leave out.
MORE = re.compile(r"还说了|还讲了|还提到|还谈到|还有什么|还有哪些|其他内容|别的内容|其他观点|其余")
BESIDES = re.compile(r"除了(?P<x>[^，,？?。]{2,40}?)(?:之外|以外)?[，,]")
# A request for a summary; whether it is of a whole essay is decided by what is left besides the essay's name.
SUMMARY_VERB = re.compile(r"概括|总结|归纳|梳理|摘要|概述|介绍一下|主要内容|核心内容|主要观点|大意|要点|主旨|要旨|"
                          r"(讲|说|谈)(了|的)?(些|是)?什么|主要讨论|主要讲|"
                          r"summar|main (idea|point)|what is .* about", re.I)
# Several essays or authors at once (几位作者, 四篇文章, 各篇文章, 作者们): a topic across essays or an overview.
_TOPIC_ACROSS = re.compile(r"([几两三四五六七八九各每]|所有|不同|这些|哪些)(位|篇)?(作者|文章|专家|学者|老师|研究员)|作者们|"
                           r"(分别|各自)(是)?(怎么|如何|怎样)(看|讲|说|论述|谈)")
# Words a question uses for the authors themselves (各位专家怎么看……) or for their discourse (这个话题, 侧重点, 提出了
# 哪些建议, 讲到了): never the topic of a question across the essays.
_PEOPLE = frozenset({*HONORIFICS, "大家", "专家", "作者", "作者们", "研究者", "各位", "诸位", "他们", "她们", "人们",
                     "话题", "议题", "领域", "建议", "侧重点", "侧重", "角度", "层面", "说法", "比较", "事情",
                     "讲到", "说到", "谈及", "提及", "论及", "涉及", "阐述", "讲述", "论述"})
_META = re.compile(r"(哪个|哪所|哪家|什么)(机构|单位|大学|学校|部门)|任职|任教|工作单位|在哪(个单位|里|儿)?(工作|上班|任职)|职务|职称|"
                   r"身份|谁写的|作者是谁|哪位作者写|作者是哪位|where does .* work|affiliat", re.I)

# What the question asks for, by its interrogative (checked in this order; the first match wins: 为什么要转变 asks
# for a reason, 什么是…的特征 for a definition, 有哪些特征 for a list).
_ASKS: tuple[tuple[Ask, re.Pattern[str]], ...] = (
    ("reason", re.compile(r"为什么|为何|原因|理由|何以|凭什么|why", re.I)),
    ("definition", re.compile(r"什么是|是什么意思|指的是|是指|指什么|含义|定义|意味着什么|是什么概念|什么叫|何谓|"
                              r"^what is|^what does .* mean|defin", re.I)),
    ("list", re.compile(r"哪些|哪几|哪[一二三四五六七八九两]|几个|几项|几条|几种|几方面|几点|逐条|列出|列举|举措|措施|路径|途径|"
                        r"特征|表现在|方向|转变|任务|重点|which|what are|list", re.I)),
    ("time", re.compile(r"什么时候|何时|哪一年|哪年|到哪年|when", re.I)),
    ("number", re.compile(r"多少|几成|比例|占比|how many|how much", re.I)),
    ("way", re.compile(r"怎么|怎样|如何|靠什么|从哪|途径|办法|做法|抓手|how", re.I)),
    ("stance", re.compile(r"怎么看|如何看|看法|观点|立场|态度|主张|认为|对吗|是吗|对不对", re.I)),
)
# "按照X的说法，CLAIM，…": a claim reported, then a question about it.
_HEARSAY = re.compile(r"(?:按照|根据|依照|照)的?(?:说法|观点|看法|意思)[，,]\s*(?P<claim>[^，,？?。]{4,60})[，,]")
# A stated claim, then a question about it: "X认为CLAIM，原因在哪里/他是怎么论述的/是哪三个" (dev.jsonl: 3 of 14
# false premises are put this way; the claim itself must ask nothing, so 认为如何增强…，… is not one).
_STATED = re.compile(r"(?:主张|认为|说|提出|强调|提倡|觉得)(?P<claim>[^，,？?。]{4,60})[，,]\s*[^，,]*"
                     r"(?:为什么|为何|原因|理由|怎么|怎样|如何|哪|什么)")
# A stance or fact the question takes for granted: "X为什么主张/认为/说 CLAIM", "X认为CLAIM，对吗", "既然CLAIM".
_PRESUPPOSE = (
    _HEARSAY,
    re.compile(r"既然(?P<claim>.{4,60}?)[，,]"),
    re.compile(r"(?:为什么|为何|凭什么)(?:会|要)?(?:主张|认为|说|提出|强调|坚持|要求|建议|提倡|觉得)?(?P<claim>.{4,60}?)(?:[？?。！!]|$)"),
    re.compile(r"(?:主张|认为|说|提出|强调|提倡|建议|觉得)(?P<claim>.{4,60}?)[，,]?\s*(?:对吗|是吗|对不对|是不是|理由是什么|为什么)"),
    _STATED,
)
_ASKING = re.compile(r"为什么|为何|怎么|怎样|如何|哪|什么|多少|几|吗|呢")
_CN = "一二三四五六七八九十"


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


def language_of(text: str) -> Language:
    """zh when the question is written in Chinese, en when it has no Chinese at all, mixed otherwise."""
    han = len(re.findall(r"[\u3400-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]{2,}", text))
    if han == 0 and latin:
        return "en"
    return "mixed" if latin else "zh"


_COUNTING = re.compile(r"哪(?:几|些)?[一二三四五六七八九十两]?(?:个|项|条|种|大|点|件|类|方面)?|几(?:个|项|条|种|大|点|件|类)")
_COUNTED_BEFORE = re.compile(r"([\u4e00-\u9fff]{2})(?:有|包括|分别是|主要有|是)(?:哪些|哪几|什么)")


def list_nouns(question: str) -> tuple[str, ...]:
    """Candidates for the noun a list question counts: the two-character words within the three characters after
    哪几个/哪些 (哪几个主攻方向 → 主攻, 攻方, 方向) and the word before 有哪些; the composer keeps one only when
    a sentence of the passages lists clauses ending in it, so a wrong candidate costs nothing."""
    out: list[str] = []
    for m in _COUNTING.finditer(question):
        run = re.match(r"[\u4e00-\u9fff]{2,5}", question[m.end():])
        if run:
            out += [run.group(0)[i:i + 2] for i in range(min(3, len(run.group(0)) - 1))]
    out += [m.group(1) for m in _COUNTED_BEFORE.finditer(question)]
    return tuple(dict.fromkeys(out))


def ask_of(question: str) -> Ask:
    """What the question asks for: the first interrogative class that matches, else a fact."""
    for ask, pattern in _ASKS:
        if pattern.search(question):
            return ask
    return "fact"


@dataclass(frozen=True)
class Presupposition:
    """A claim the question takes for granted, to be checked against the passages."""

    claim: str


def presupposition_of(question: str, authors: Sequence[str]) -> Presupposition | None:
    """The claim after a stance cue (为什么主张…, 认为…对吗, 既然…), author names removed."""
    q = question
    for a in authors:
        q = q.replace(a, "")
    for pattern in _PRESUPPOSE:
        m = pattern.search(q)
        if m:
            claim = re.sub(r"[呢吗啊]+$", "", m.group("claim").strip("，,。 ：:“”\"")).strip("，,")
            claim = re.sub(r"^(?:(?:文章|作者|的文章|在文章中|文中)(?:中|里)?)?(?:主张|认为|说|提出)?", "", claim)
            # a clause before a question is a claim only when it asks nothing itself; 王静说的要素协同 names a topic
            if pattern in (_STATED, _HEARSAY) and (_ASKING.search(claim) or claim.startswith("的")):
                continue
            if len(re.findall(r"[^\W_]", claim)) >= 4:
                return Presupposition(claim)
    return None


@dataclass
class Context:
    """What a conversation is about so far: the essay, the author and the list items last shown."""

    essay: Essay | None = None
    standalone: str = ""
    items: list[str] = field(default_factory=list)
    shown: str = ""  # the last answer, as shown (what “还说了什么” must not repeat)


@dataclass(frozen=True)
class Plan:
    """How one question will be answered; consumed by the answer orchestrator and both composers."""

    kind: Kind
    question: str  # the cleaned question as asked, output tricks removed
    standalone: str  # the question rewritten to stand alone (a follow-up resolved against the conversation)
    ask: Ask = "fact"
    author: str | None = None  # the author the answer is about (a filter or a name in the question)
    essay: Essay | None = None  # the essay the answer is about
    essays: tuple[Essay, ...] = ()  # the essays a comparison, topic or overview spans
    filter_author: str | None = None  # the filters the user set, as given
    filter_essay: Essay | None = None
    filter_conflict: bool = False  # an essay filter and an author filter that did not write it
    followup: bool = False  # resolved against an earlier turn
    item: str = ""  # the list item an ordinal follow-up refers to
    exclude: tuple[str, ...] = ()  # what “还说了什么/除了X” leaves out: the last answer shown, or X
    shown: str = ""  # the last answer, when “还说了什么” asks for what follows it in the same passages
    nouns: tuple[str, ...] = ()  # what a list question counts (哪几个转变 → 转变), candidates for the composer
    presupposition: Presupposition | None = None
    language: Language = "zh"
    needs_context: bool = False  # a follow-up with nothing before it to resolve against
    topic: tuple[str, ...] = ()  # a topic question's words the essays use (人才; 基础研究), for summarising it

    @property
    def filtered(self) -> bool:
        """True when the user set an author or essay filter."""
        return bool(self.filter_author or self.filter_essay)


Rewriter = Callable[[str, Sequence[Turn]], str]


class Planner:
    """Turns a question, the conversation so far and the filters into a Plan."""

    def __init__(self, essays: Sequence[Essay], evidence: EvidenceModel) -> None:
        self.essays = list(essays)
        self.evidence = evidence
        self.finder = ReferenceFinder.for_essays(self.essays)

    # ------------------------------------------------------------------ references
    def mentions(self, text: str) -> tuple[list[Essay], Essay | None]:
        """Essays whose author is named in `text`, and the essay named by (part of) its title: the same
        reference finder retrieval uses (rag.references), so both layers agree on what a question names."""
        refs = self.finder.find(text)
        by_author = [e for e in self.essays if e.author and e.author in refs.authors]
        titled = next((e for e in self.essays if e.id in refs.essay_ids), None)
        if titled is None:
            for m in re.finditer(r"《([^》]{2,60})》", text):
                titled = self.essay_by_title(m.group(1)) or titled
        return by_author, titled

    def essay_by_title(self, title: str) -> Essay | None:
        """The essay whose title shares at least half its character bigrams with `title`."""
        best, best_score = None, 0.0
        tg = set(bigrams(title))
        for e in self.essays:
            eg = set(bigrams(e.title))
            score = len(tg & eg) / max(1, len(tg | eg))
            if score > best_score:
                best, best_score = e, score
        return best if best_score >= 0.5 else None

    def essay_filter(self, essay: str | None) -> Essay | None:
        """The essay an essay filter names (id, title or part of a title)."""
        if not essay:
            return None
        key = essay.strip().strip("《》")
        for e in self.essays:
            if key in (e.id, e.title) or (key and key in e.title):
                return e
        return self.essay_by_title(key)

    # ------------------------------------------------------------------ planning
    def plan(self, question: str, history: Sequence[Turn] = (), author: str | None = None,
             essay: str | None = None, rewrite: Rewriter | None = None) -> Plan:
        """The Plan for one (already cleaned and bounded) question."""
        ctx = self.context(history)
        q = strip_instructions(question)
        standalone, item = q, ""
        if ctx.essay is not None or ctx.standalone:
            standalone, item = self.resolve(q, history, ctx, rewrite)
        followup = standalone != q
        exclude: tuple[str, ...] = ()
        shown = ""
        if followup and MORE.search(q):
            besides = BESIDES.search(q)
            exclude = (besides.group("x"),) if besides else ((ctx.shown,) if ctx.shown else ())
            # with nothing named, what else the passages just quoted say; with a topic of its own, more on it
            shown = "" if besides or self._own_terms(q) else ctx.shown
        authors, titled = self.mentions(standalone)
        filter_essay = self.essay_filter(essay)
        conflict = bool(filter_essay and author and filter_essay.author != author)
        # an essay filter names one essay: an author filter that did not write it is dropped, not applied
        use_author = None if conflict else author
        chosen_essay = filter_essay or titled
        if chosen_essay is None and use_author:
            chosen_essay = next((e for e in self.essays if e.author == use_author), None)
        if chosen_essay is None and len(authors) == 1:
            chosen_essay = authors[0]
        plan_author = use_author or (filter_essay.author if filter_essay else None) or (
            authors[0].author if len(authors) == 1 else None)
        base = Plan("qa", question=q, standalone=standalone, ask=ask_of(standalone), filter_author=author,
                    filter_essay=filter_essay, filter_conflict=conflict, followup=followup, item=item,
                    exclude=exclude, shown=shown, nouns=list_nouns(standalone), language=language_of(standalone))
        needs_context = (not history and FOLLOWUP.search(q) is not None
                         and not self.evidence.terms(FOLLOWUP.sub(" ", q)))
        if len(authors) >= 2 and titled is None and not essay and not author:
            return replace(base, kind="topic", essays=tuple(authors), topic=self.topic_terms(standalone))
        if _META.search(standalone) and (chosen_essay is not None or authors):
            return replace(base, kind="meta", author=plan_author, essay=chosen_essay or authors[0])
        if _TOPIC_ACROSS.search(standalone) and len(self.essays) > 1 and chosen_essay is None:
            topic = self.topic_terms(standalone)
            # no topic word left (这四篇文章共同关注的主题是什么): what the essays are about, one thesis each
            if not topic and re.search(r"共同|主题|主旨|关注|讲了什么|说了什么|内容|概括|总结|归纳|大意|要点", standalone):
                return replace(base, kind="overview", essays=tuple(self.essays))
            return replace(base, kind="topic", topic=topic)
        if SUMMARY_VERB.search(standalone) and chosen_essay is not None and self._is_whole_essay(standalone,
                                                                                                chosen_essay):
            return replace(base, kind="summary", author=plan_author, essay=chosen_essay)
        presupposition = presupposition_of(standalone, [e.author for e in self.essays]) if not item else None
        return replace(base, author=plan_author, essay=chosen_essay, presupposition=presupposition,
                       needs_context=needs_context)

    def _is_whole_essay(self, q: str, essay: Essay) -> bool:
        """True when, after removing the essay's name and summary words, little topic is left. Words of the title
        describe the essay (谈新型工业化的那篇, 讲提升产业体系现代化水平的那篇), not a topic inside it."""
        rest = q.replace(essay.title, "").replace(essay.author, "")
        rest = _title_words_removed(rest, essay.title)
        rest = SUMMARY_VERB.sub("", rest)
        rest = re.sub(r"《[^》]*》|请|帮我|给我|一下|用|几句话|简要|简单|说说|讲讲|能|地|的|文章|这篇|那篇|该文|一文|全文|还|了|些|"
                      r"什么|主要|核心|内容|观点|是|谈|讨论|讲|说|呢|吗|她|他|[\W_\d]|[A-Za-z]", "", rest)
        return len(rest) <= 1  # one stray character is scaffolding; a two-character word (特征) is a topic

    def topic_terms(self, question: str) -> tuple[str, ...]:
        """The question's salient words, adjacent words joined when the essays use them together (基础+研究 →
        基础研究): what a topic question is about (a word the essays never use is kept: it makes the topic
        uncovered)."""
        # a measure word without a figure (这件 of 这件事上) and the words for the authors (大家, 学者) are
        # scaffolding, not a topic
        # a verb or adjective the essays never use (留住 of 留住人才, 评价) is the asker's paraphrase: it cannot be
        # matched and says nothing about what the topic is
        text = self.evidence.corpus_text
        words = [t.word for t in self.evidence.terms(question)
                 if not (t.flag.startswith("m") and not re.search(r"\d", t.word)) and t.word not in _PEOPLE
                 and not (t.flag.startswith(("v", "a", "d")) and t.word not in text)]
        merged: list[str] = []
        for w in words:
            if merged and merged[-1] + w in question and merged[-1] + w in self.evidence.corpus_text:
                merged[-1] += w
            else:
                merged.append(w)
        return tuple(merged)

    # ------------------------------------------------------------------ the conversation
    def context(self, history: Sequence[Turn]) -> Context:
        """Replay the conversation to know the last essay, author and the items of the last list shown."""
        ctx = Context()
        on_item = False  # the last question was about one item of the list shown
        for turn in history:
            if turn.role == "user":
                q = clean_question(turn.content)
                if not q or EXTRACTION.search(q):
                    continue
                resolved, item = self.resolve(q, (), ctx, None) if (ctx.essay or ctx.standalone) else (q, "")
                on_item = bool(item)
                authors, titled = self.mentions(resolved)
                if titled is not None:
                    ctx.essay = titled
                elif len(authors) == 1:
                    ctx.essay = authors[0]
                ctx.standalone = resolved
            else:
                ctx.shown = turn.content
                # an answer about one item keeps the list it came from (第三条 after 第二条 is the list's third
                # item, not the third of an enumeration quoted inside the second); only a numbered list replaces it
                items = list_items(turn.content, ctx.standalone, inline=not on_item)
                if items:
                    ctx.items = items
                authors, titled = self.mentions(turn.content)
                named = titled or (authors[0] if authors else None)
                if named is not None and (ctx.essay is None or ctx.essay.author not in turn.content):
                    ctx.essay = named
        return ctx

    def _looks_followup(self, q: str, ctx: Context) -> bool:
        authors, titled = self.mentions(q)
        if ORDINAL_REF.search(q) and ctx.items:
            return True
        if FOLLOWUP.search(q):
            return True
        return len(q) <= 6 and not authors and titled is None

    def resolve(self, q: str, history: Sequence[Turn], ctx: Context, rewrite: Rewriter | None) -> tuple[str, str]:
        """(standalone question, the list item an ordinal refers to); a model rewrite only when the heuristic
        cannot place the follow-up (an ordinal or pronoun it resolves needs no model call)."""
        if not self._looks_followup(q, ctx):
            return q, ""
        heuristic, item = self.rewrite_heuristic(q, ctx)
        if item or heuristic != q or rewrite is None:
            return heuristic, item
        rewritten = rewrite(q, history)
        return (rewritten or heuristic), ""

    def _own_terms(self, q: str) -> bool:
        """Does a “还说了什么” follow-up name a topic of its own (beyond 除了X, pronouns and the request)?"""
        rest = MORE.sub(" ", BESIDES.sub(" ", q))
        rest = re.sub(r"该作者|这位作者|作者|他们|她们|他|她|这篇文章|这篇|该文|本文|文中|那篇文章|了|别的|其他|呢", " ", rest)
        return bool(self.evidence.terms(rest))

    def rewrite_heuristic(self, q: str, ctx: Context) -> tuple[str, str]:
        """Carry the previous turn's essay, author and list over into a follow-up question."""
        essay = ctx.essay
        if essay is None:
            return q, ""
        authors, titled = self.mentions(q)
        m = ORDINAL_REF.search(q)
        if m and ctx.items:
            n = len(ctx.items) if m.group(2) else cn_int(m.group(1))
            if 1 <= n <= len(ctx.items):
                item = re.sub(rf"^[{_CN}]是", "", ctx.items[n - 1]).strip()
                rest = q[m.end():]
                rest = re.sub(r"^(是|的)?", "", rest)
                rest = re.sub(r"^[呢吗？?。\s]*$", "", rest)
                ask = rest if rest else "具体是怎么论述的？"
                return f"{essay.author}文章中的“{item}”{ask}", item
        if MORE.search(q) and not authors and titled is None and not self._own_terms(q):
            prev = ctx.standalone
            about_essay = re.search(r"这篇|该文|本文|文章|文中|全文", q) is not None  # 这篇文章还说了什么: the essay
            if prev and not about_essay and not SUMMARY_VERB.search(prev) and not _META.search(prev) and \
                    self.evidence.terms(prev):
                # more on the topic just asked about, by the same author (the composer leaves out what was shown)
                named, named_title = self.mentions(prev)
                return (prev if named or named_title else f"{essay.author}文章中，{prev}"), ""
            return f"概括{essay.author}的文章《{essay.title}》", ""
        if authors and not titled and re.fullmatch(r"[^，。？?]{0,8}(呢|怎么看|如何看|的看法呢|的观点呢)[？?]?", q) and \
                ctx.standalone:
            prev = ctx.standalone
            if essay.author in prev:
                return prev.replace(essay.author, authors[0].author), ""
            return f"{authors[0].author}：{prev}", ""
        topic = self.evidence.topic(ctx.standalone) if ctx.standalone else ""
        if topic:
            q = re.sub(r"这方面|那方面|这一点|这个问题|这些领域|这个话题", f"{topic}方面", q, count=1)
            q = re.sub(r"^(那|那么)?(?<!其)它(?!们)", f"{topic}", q, count=1)
            q = re.sub(r"(?<!其)它(?!们)", topic, q, count=1)
        if authors or titled is not None:
            return _plain(q), ""
        q2 = re.sub(r"该作者|这位作者|作者|他们|她们|他|她", essay.author, q, count=1)
        q2 = re.sub(r"这篇文章|这篇|该文|本文|文中|那篇文章", f"《{essay.title}》", q2, count=1)
        if q2 == q:
            q2 = re.sub(r"^(那|那么|还有|另外|此外|然后)", "", q2)
            q2 = re.sub(r"它", "", q2) if "它" in q2 and ctx.standalone else q2
            return f"{essay.author}文章中，{q2}", ""
        return q2, ""


def _plain(q: str) -> str:
    """A follow-up that names its own author and topic (那王成仁在人才方面又是怎么说的呢？) without the words that tie
    it to the turn before (那, 又, 呢): the standalone question retrieval and the gate read."""
    out = re.sub(r"^(那么|那)(?![篇些个种里边样时])(?=[^\W\d_])", "", q)
    out = re.sub(r"又(?=是|在|怎么|如何|有|对|提)", "", out)
    out = re.sub(r"呢(?=[？?]?$)", "", out)
    return out if len(out) >= 4 else q


SECTION_TITLE_CHARS = 30  # the seed essays' section titles are 6-26 characters; a longer lead is a sentence


def _title_words_removed(text: str, title: str, shortest: int = 2) -> str:
    """`text` without its runs of two or more characters that occur in `title` (longest first)."""
    out, i = [], 0
    while i < len(text):
        n = next((n for n in range(len(text) - i, shortest - 1, -1) if text[i:i + n] in title), 0)
        if n:
            i += n
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_ITEM_LINE = re.compile(rf"^\s*(?:[-•]\s*)?(?:\d+[.、]\s*|（\d+）\s*)?([{_CN}]是)?([^。；\n]+)")


def list_items(answer: str, question: str = "", inline: bool = True) -> list[str]:
    """The items of the list an answer shows: its numbered or 一是… lines, else (with `inline`) the inline
    enumeration (A、B、C) whose clause shares most with the question it answered."""
    items: list[str] = []
    for line in answer.splitlines():
        if re.match(rf"^\s*(?:[-•]\s*)?(\d+[.、]|（\d+）|[{_CN}]是)", line):
            m = _ITEM_LINE.match(cit.strip_markers(line))
            if m:
                text = m.group(2).strip()
                head, colon, _ = text.partition("：")  # a summary's “2. 章节标题：…” line: the item is the section
                items.append(head if colon and 2 <= len(head) <= SECTION_TITLE_CHARS else text)
    if len(items) >= 2 or not inline:
        return items if len(items) >= 2 else []
    grams = set(bigrams(question))
    best: list[str] = []
    best_key = (-1, 0)
    for clause in re.split(r"[，。；：\n]", cit.strip_markers(answer)):
        parts = [p for p in clause.split("、") if p]
        if len(parts) < 3:
            continue
        # several enumerations in one quoted sentence: the one whose clause the question names
        key = (len(grams & set(bigrams(clause))), len(parts))
        if key > best_key:
            parts[0] = re.sub(r"^.*?(表现出|包括|聚焦|通过|有|是)", "", parts[0])
            parts[-1] = re.sub(r"(等|等特征|等方面|等领域|等产业).*$", "", parts[-1])
            best, best_key = parts, key
    return best


_INTERROGATIVE = frozenset({"哪个", "哪家", "哪些", "哪位", "哪种", "哪类", "哪所", "什么", "什么样", "多少", "几"})
# Words naming the kind of answer rather than a kind of thing (有什么建议, 哪些措施): the essays give them without
# using the word, so they are never the question's focus.
_ANSWER_TYPES = re.compile(r"^(建议|措施|举措|办法|方法|途径|路径|看法|观点|意义|作用|特征|特点|原因|理由|要求|目标|问题|影响|"
                           r"内容|方面|关系|区别|含义|经验|思路|任务|重点|方向|优势|挑战|风险|表现|做法|关键|条件)$")


def asked_for(question: str, evidence: EvidenceModel) -> set[str]:
    """The thing a question asks for when it names its kind: the noun right after 哪个/什么/多少 (“由哪个部门
    制定” asks for a 部门, “哪家机构” for a 机构), minus answer-type words (建议, 措施)."""
    from rag.segment import cut

    tokens = cut(question, evidence.cache_dir)
    out = set()
    for (word, _), (after, flag) in zip(tokens, tokens[1:], strict=False):
        if word in _INTERROGATIVE and flag.startswith("n") and len(after) >= 2 and not _ANSWER_TYPES.match(after):
            out.add(after)
    return out


def cn_int(s: str) -> int:
    """A Chinese or Arabic numeral from 1 to 19 as an int (0 when unreadable)."""
    if s.isdigit():
        return int(s)
    digits = "一二三四五六七八九"
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + digits.index(s[1]) + 1
    return digits.index(s[0]) + 1 if s[0] in digits else 0
