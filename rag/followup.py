"""Follow-up questions: the conversation replayed (the essay, the author, the items of the last list shown) and a
follow-up rewritten into a standalone question (ordinals, pronouns, 那……呢, 还说了什么), heuristically; a model
rewrite only when the heuristic cannot place it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag import citations as cit
from rag.evidence import EvidenceModel
from rag.items import MIN_CLAUSE_ITEMS
from rag.question import (
    _CN,
    BESIDES,
    EXTRACTION,
    FOLLOWUP,
    META,
    MORE,
    ORDINAL_REF,
    SUMMARY_VERB,
    clean_question,
    ordinal_position,
)
from rag.segment import cut
from rag.sentences import bigrams
from rag.types import Essay, Turn

Rewriter = Callable[[str, Sequence[Turn]], str]
Mentions = Callable[[str], tuple[list[Essay], Essay | None]]


@dataclass
class Context:
    """What a conversation is about so far: the essay, the author and the list items last shown."""

    essay: Essay | None = None
    standalone: str = ""
    items: list[str] = field(default_factory=list)
    shown: str = ""  # the last answer, as shown (what “还说了什么” must not repeat)
    lists: list[list[str]] = field(default_factory=list)  # every enumeration of the answer the items came from


# The authors a conversation has not discussed yet: 另外几位, 其他作者, 别的学者.
# The author of the answer before, pointed at (刚才那位作者, 前面那位专家, 上一位作者)
_EARLIER_AUTHOR = re.compile(r"(?:刚才|前面|上面|之前|上一位|前一位)(?:那位|这位|那一位|的)?(?:作者|专家|学者)|"
                             r"(?:刚才|前面|上面)(?:那位|那一位)")
_OTHER_AUTHORS = re.compile(r"(?:另外|其他|其余|别的|剩下的?)(?:几位|两位|三位|各位)?(?:作者|学者|专家|人)?(?:都|又|分别)?"
                            r"(?=怎么|如何|是怎么|对|有什么|有何|的看法|的观点)")
# Modal verbs the essays use as often as any asker (才能 of 具体要怎么做才能改过来): no topic of a question's own
# (可以, 需要, 应该 and 应当 are already question scaffolding in rag.evidence).
_AUX = frozenset({"才能", "能够", "必须", "可能"})
# A request for an example (能举个例子吗, 比如说呢) names no topic: it asks for the examples of what was just said
# (dev10.jsonl: 1 of 10 conversations was refused on 例子, a word the essays never use).
_EXAMPLE = re.compile(r"举(?:个|一个|几个|些|一些)?例子?|(?:具体|实际)?(?:的)?例子|实例|案例|比如说?|例如")


class FollowUps:
    """Reads a conversation and rewrites follow-ups; `mentions` finds the essays a text names (the planner's)."""

    def __init__(self, mentions: Mentions, evidence: EvidenceModel, authors: Sequence[str] = ()) -> None:
        self.mentions = mentions
        self.evidence = evidence
        self.authors = list(dict.fromkeys(authors))  # the corpus's authors, in essay order

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
                    ctx.lists = enumerations(turn.content) if not on_item else [items]
                authors, titled = self.mentions(turn.content)
                # the author the answer names first (a 谁写了…… answer lists the most relevant one first; dev5.jsonl)
                named = _first_named(turn.content, [e for e in [titled, *authors] if e is not None])
                if named is not None and (ctx.essay is None or ctx.essay.author not in turn.content):
                    ctx.essay = named
        return ctx

    def _looks_followup(self, q: str, ctx: Context) -> bool:
        authors, titled = self.mentions(q)
        if ORDINAL_REF.search(q) and ctx.items:
            return True
        if FOLLOWUP.search(q):
            return True
        if not authors and titled is None and self._named_item(q, ctx.items):
            return True  # 补短板与锻长板这一条怎么理解: one item of the list just shown
        if ctx.standalone and not authors and titled is None and self._bare(q):
            return True  # 为什么这么说？有什么依据 / 具体要怎么做: a request with no topic of its own asks about the last turn
        return len(q) <= 6 and not authors and titled is None

    def _bare(self, q: str) -> bool:
        """No noun and no word the essays use: a request (为什么这么说, 具体要怎么做才能改过来), not a topic; a new
        question in everyday words names things (公司开门做生意). dev6.jsonl: 3 of 24 conversations asked why or how
        of the last answer this way and lost its topic."""
        terms = self.evidence.terms(_EXAMPLE.sub(" ", q))
        return not any(t.flag.startswith("n") or (t.word in self.evidence.corpus_text and t.word not in _AUX)
                       for t in terms)

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

    def own_terms(self, q: str, shown: str = "") -> bool:
        """Does a “还说了什么” follow-up name a topic of its own (beyond 除了X, pronouns and the request)? A word of
        the answer just shown is none (还有别的意义吗 after an answer on a 重大战略意义: dev6.jsonl, 1 of 24)."""
        rest = MORE.sub(" ", BESIDES.sub(" ", q))
        rest = re.sub(r"该作者|这位作者|作者|他们|她们|他|她|这篇文章|这篇|该文|本文|文中|那篇文章|了|别的|其他|呢", " ", rest)
        return any(t.word not in shown for t in self.evidence.terms(rest))

    def _subject(self, prev: str, new: str) -> str:
        """The subject of the question before a 那X呢 (大型企业 of 王成仁说大型企业在共性技术上要承担什么任务), or ""
        when there is none or the new words narrow it."""
        phrases: list[tuple[str, bool]] = []  # adjacent terms joined (大型+企业), and whether one is a noun
        for t in self.evidence.terms(prev):
            if t.word in self.authors:
                continue
            nominal = t.flag.startswith("n") or t.flag == "vn"
            if phrases and phrases[-1][0] + t.word in prev:
                phrases[-1] = (phrases[-1][0] + t.word, phrases[-1][1] or nominal)
            else:
                phrases.append((t.word, nominal))
        # the first one is the question's subject; one the new words hold (产业 in 未来产业方面) narrows it, and
        # the question is left to the other rules
        subject = next((p for p, nominal in phrases if nominal), "")
        if not subject or subject in new:
            return ""
        # with its attributive word before it (大型 of 大型企业, 中小 of 中小金融机构: tagged b/j, not terms)
        tokens = cut(prev, self.evidence.cache_dir)
        for k in range(1, len(tokens)):
            if subject.startswith(tokens[k][0]) and tokens[k - 1][1] in ("b", "j") and \
                    tokens[k - 1][0] + subject in prev:
                subject = tokens[k - 1][0] + subject
                break
        # and a one-character predicate after it that names the item (经济效益好 against 生态破坏少)
        at = prev.find(subject)
        if re.match(r"[好优强高少低多大小快慢](?:[指是的，,？?]|$)", prev[at + len(subject):]):
            subject = prev[at:at + len(subject) + 1]
        return subject

    def _named_item(self, q: str, items: Sequence[str]) -> str:
        """The one item of the list just shown that a follow-up names: the item written out in it, else the item
        holding most of its words' character pairs (at least NAMED_ITEM_PAIRS, twice the runner-up) when it
        points at one of the list (这一条, 那一对, 其中); "" when it names none or several."""
        heads = [re.sub(rf"^[{_CN}]是", "", x).strip() for x in items]
        if len(heads) < 2:
            return ""
        written = [h for h in heads if len(h) >= 4 and h in q]
        if len(written) == 1:
            return written[0]
        if written or not _POINTS_AT_ITEM.search(q):
            return ""
        grams = {g for t in self.evidence.terms(q) for g in bigrams(t.word)}
        scores = sorted(((len(grams & set(bigrams(h))), h) for h in heads), reverse=True)
        best, second = scores[0][0], scores[1][0]
        return scores[0][1] if best >= NAMED_ITEM_PAIRS and best >= 2 * second else ""

    def rewrite_heuristic(self, q: str, ctx: Context) -> tuple[str, str]:
        """Carry the previous turn's essay, author and list over into a follow-up question."""
        essay = ctx.essay
        m = ORDINAL_REF.search(q)
        if essay is None and not (m and ctx.items):
            return q, ""
        authors, titled = self.mentions(q)
        if m and ctx.items:
            items = counted_list(ctx.lists, q[m.end():]) or ctx.items
            n = ordinal_position(m, len(items))
            if 1 <= n <= len(items):
                item = re.sub(rf"^[{_CN}]是", "", items[n - 1]).strip()
                rest = q[m.end():]
                rest = re.sub(r"^(是|的)?", "", rest)
                rest = re.sub(r"^[呢吗？?。\s]*$", "", rest)
                ask = rest if rest else "具体是怎么论述的？"
                # a generated answer may list the items without naming the essay: the item alone is the question
                where = f"{essay.author}文章中的" if essay is not None else ""
                return f"{where}“{item}”{ask}", item
        if essay is None:
            return q, ""
        if not authors and titled is None and (item := self._named_item(q, ctx.items)):
            # one item of the list just shown, named by its words (展开说说产业体系全领域这一点) instead of its number:
            # the same question as the ordinal's (dev16.jsonl: 1 of 18 conversations got the list sentence again)
            return f"{essay.author}文章中的“{item}”{_item_ask(q)}", item
        if _EARLIER_AUTHOR.search(q) and essay.author not in q:
            # 和刚才那位作者的说法有什么不同: the author of the last answer, named, so that a comparison names both
            # (dev15.jsonl: 1 of 18 conversations was answered from the newly named author alone)
            q = _EARLIER_AUTHOR.sub(essay.author, q, count=1)
            authors, titled = self.mentions(q)
        if MORE.search(q) and not authors and titled is None and not self.own_terms(q, ctx.shown):
            prev = ctx.standalone
            about_essay = re.search(r"这篇|该文|本文|文章|文中|全文", q) is not None  # 这篇文章还说了什么: the essay
            if prev and not about_essay and not SUMMARY_VERB.search(prev) and not META.search(prev) and \
                    self.evidence.terms(prev):
                # more on the topic just asked about, by the same author (the composer leaves out what was shown)
                named, named_title = self.mentions(prev)
                return (prev if named or named_title else f"{essay.author}文章中，{prev}"), ""
            return f"概括{essay.author}的文章《{essay.title}》", ""
        if not authors and titled is None and _OTHER_AUTHORS.search(q) and len(self.authors) > 2:
            # 那另外几位怎么看: the same question put to the authors not discussed (dev6.jsonl: 1 of 24 conversations
            # answered from the essay just discussed)
            others = "、".join(a for a in self.authors if a != essay.author)
            rest = _OTHER_AUTHORS.sub("", re.sub(r"^(那|那么)", "", q))
            topic_here = self.evidence.topic(rest) or self.evidence.topic(ctx.standalone)
            return f"{others}怎么看{topic_here}？", ""
        # (那傅晋华是怎么说的/又是怎么讲的 too: dev8.jsonl 1 of 12 conversations was asked of no topic)
        # (换成王静会怎么说/要是王成仁呢: the same question put to another author, dev16.jsonl 1 of 18 conversations)
        bare = re.sub(r"^(?:那么|那)", "", q.replace(authors[0].author, "")) if authors else q
        bare = re.sub(r"^(?:换成|换作|换了|轮到|如果是|要是)", "", bare)
        if authors and not titled and (re.fullmatch(r"[^，。？?]{0,8}(呢|怎么看|如何看|的看法呢|的观点呢)[？?]?", q) or
                                       re.fullmatch(r"(?:又|是|又是|会|会是)?(?:怎么|怎样|如何)(?:说|讲|谈|看|论述)的?呢?[？?]?",
                                                    bare)) and ctx.standalone:
            prev = ctx.standalone
            if essay.author in prev:
                return prev.replace(essay.author, authors[0].author), ""
            return f"{authors[0].author}：{prev}", ""
        switched = _SWITCH.fullmatch(q)
        if switched and not authors and titled is None and ctx.standalone:
            # 那X呢 after a question about Y: the same question about X, X in Y's place (dev12.jsonl: 1 of 12
            # conversations, 那高校的老师、学生和科研人员呢 after 大型企业…要承担什么任务, was refused)
            new = switched.group("x")
            subject = self._subject(ctx.standalone, new)
            if subject and self.evidence.terms(new):
                return ctx.standalone.replace(subject, new, 1), ""
        topic = self.evidence.topic(ctx.standalone) if ctx.standalone else ""
        if topic:
            q = re.sub(r"这方面|那方面|这一点|这个问题|这些领域|这个话题", f"{topic}方面", q, count=1)
            q = re.sub(r"这个(?=[？?，,。！!]|$)", topic, q, count=1)  # 为什么这么强调这个: the topic just asked about
            # 这类产业 after a question on 战略性新兴产业: the kind just asked about (dev4.jsonl: 1 of 14 conversations)
            q = re.sub(r"(?:这类|这种|这些|此类|这样的)(?P<n>[\u4e00-\u9fff]{1,4}?)(?=又|是|怎么|如何|有|的|呢|[，,？?]|$)",
                       lambda k: topic if topic.endswith(k.group("n")) else k.group(0), q, count=1)
            q = re.sub(r"^(那|那么)?(?<!其)它(?!们)", f"{topic}", q, count=1)
            q = re.sub(r"(?<!其)它(?!们)", topic, q, count=1)
        if authors or titled is not None:
            return _plain(q), ""
        pronoun = r"该作者|这位作者|作者|他们|她们|他|她"
        if re.search(pronoun, q) and _WHY.search(q) and ctx.standalone and self._bare(re.sub(pronoun, " ", q)) \
                and (claim := _answered_claim(ctx.shown, ctx.standalone)) and not _WHY.search(ctx.standalone):
            # 他为什么这么说: why, of the statement just shown, as for a bare why below (dev15.jsonl: 1 of 18
            # conversations was rewritten 傅晋华就哪一个最活跃为什么这么说, the last question's wording, and got no reason)
            return f"{essay.author}为什么说{claim}？", ""
        q2 = re.sub(pronoun, essay.author, q, count=1)
        q2 = re.sub(r"这篇文章|这篇|该文|本文|文中|那篇文章", f"《{essay.title}》", q2, count=1)
        if q2 != q and topic and not self.evidence.terms(q2.replace(essay.author, " ")):
            # 那他具体提了哪几点做法: nothing of its own to ask about but the topic of the turn before (dev4.jsonl:
            # 1 of 14 conversations was refused with the bare request)
            q2 = re.sub(r"^(那|那么)", "", q2).replace(essay.author, f"{essay.author}就{topic}", 1)
        if q2 == q and ctx.standalone and topic not in q and self._bare(q):
            claim = _answered_claim(ctx.shown, ctx.standalone)
            if _WHY.search(q) and claim and not _WHY.search(ctx.standalone):
                # why, of an answer that stated something (核心要素是什么 → 科技创新…是发展新质生产力的核心要素): the
                # statement is what is asked about (dev6.jsonl: 1 of 24 conversations quoted reasons for other claims)
                return f"{essay.author}为什么说{claim}？", ""
            # a bare why or how: asked of the last question, whose words find the passage it was answered from
            return f"{ctx.standalone.rstrip('？?。 ')}，{re.sub(r'^(那|那么)', '', q)}", ""
        if q2 == q:
            q2 = re.sub(r"^(那|那么|还有|另外|此外|然后)", "", q2)
            q2 = re.sub(r"它", "", q2) if "它" in q2 and ctx.standalone else q2
            return f"{essay.author}文章中，{q2}", ""
        return q2, ""


# A follow-up pointing at one item of the list just shown (这一点, 那一条, 这些里面的, 其中): with the item's own words
# it names that item (统筹补短板与锻长板这一条怎么理解)
_POINTS_AT_ITEM = re.compile(r"[这那](?:一)?[条点项对个方面]|其中|这些里面|这几[条点项对个]里|当中")
# Character pairs a follow-up must share with the item it names by description: one two-character word matches by
# chance (发展, 产业); two pairs name it (补短板 → 补短、短板)
NAMED_ITEM_PAIRS = 2
# What a follow-up on a named item asks (是什么意思, 怎么理解, 为什么): from its question word to the end
_ITEM_ASK = re.compile(r"(?:具体)?(?:是)?(?:什么意思|指什么|什么|怎么|怎样|如何|为什么|为何|哪)[^，。]*$")


def _item_ask(q: str) -> str:
    """What a follow-up asks of the item it names, or the ordinal's default (具体是怎么论述的)."""
    m = _ITEM_ASK.search(q.strip())
    return m.group(0) if m else "具体是怎么论述的？"


_SWITCH = re.compile(r"(?:那|那么)(?P<x>[^，。？?！!]{2,24}?)(?:呢|又如何|又怎样|怎么样)[？?]?")
_WHY = re.compile(r"为什么|为何|凭什么|什么依据|有何依据|依据是什么|理由是什么|什么理由|原因是什么|什么原因")


def _answered_claim(shown: str, asked: str) -> str:
    """The sentence of an answer that answers the question asked (most of its character pairs), without the
    attribution and markers; empty for a refusal, a list or a premise correction, where a why asks about no one
    statement."""
    body = cit.strip_markers(shown)
    head = re.search(r"(?:指出|提出|认为)：", body)
    if head is None or "\n" in body.strip() or body.startswith("问题中的说法"):
        return ""
    sentences = [x.strip() for x in body[head.end():].split("。") if len(x.strip()) >= 6]
    grams = set(bigrams(asked))
    # most pairs in common, then the sentence most about them (the shorter of two that hold as many)
    return max(sentences, key=lambda x: (len(grams & set(bigrams(x))), len(grams & set(bigrams(x))) /
                                         (len(set(bigrams(x))) or 1)), default="")


def _first_named(text: str, essays: Sequence[Essay]) -> Essay | None:
    """Of the essays a text names (by author or title), the one it names first."""
    def at(e: Essay) -> int:
        return min((p for p in (text.find(e.author), text.find(e.title)) if p >= 0), default=len(text))
    return min(essays, key=at, default=None)


def _plain(q: str) -> str:
    """A follow-up that names its own author and topic (那王成仁在人才方面又是怎么说的呢？) without the words that tie
    it to the turn before (那, 又, 呢): the standalone question retrieval and the gate read."""
    out = re.sub(r"^(那么|那)(?![篇些个种里边样时])(?=[^\W\d_])", "", q)
    out = re.sub(r"又(?=是|在|怎么|如何|有|对|提)", "", out)
    out = re.sub(r"呢(?=[？?]?$)", "", out)
    return out if len(out) >= 4 else q


SECTION_TITLE_CHARS = 30  # the seed essays' section titles are 6-26 characters; a longer lead is a sentence


_ITEM_LINE = re.compile(rf"^\s*(?:[-•]\s*)?(?:\d+[.、]\s*|（\d+）\s*)?([{_CN}]是)?([^。；\n]+)")


def enumerations(answer: str) -> list[list[str]]:
    """Every enumeration an answer shows: its numbered lines, each inline list (A、B和C) and each run of three or
    more clauses of one sentence that start or end alike (统筹…关系，…；统筹…关系 / 由…向…转变，…转变)."""
    out = [numbered] if len(numbered := list_items(answer, inline=False)) >= 2 else []
    for sentence in re.split(r"[。\n]", cit.strip_markers(answer)):
        clauses = [c.strip() for c in re.split(r"[，；：]", sentence) if c.strip()]
        for clause in clauses:
            parts = [p for p in clause.split("、") if p]
            if len(parts) >= 2:
                last = re.split(r"和|及|以及|与", parts[-1], maxsplit=1)  # A、B和C: the last pair joined by 和
                parts = parts[:-1] + (last if len(last) == 2 and all(len(x) >= 2 for x in last) else [parts[-1]])
            if len(parts) >= 3:
                out.append(parts)
        for key in (lambda c: c[:2], lambda c: c[-2:]):
            run: list[str] = []
            for clause in clauses + [""]:
                if run and clause and key(clause) == key(run[-1]):
                    run.append(clause)
                    continue
                if len(run) >= 3:
                    out.append(run)
                run = [clause] if clause else []
    return out


def counted_list(lists: Sequence[list[str]], after: str) -> list[str]:
    """The enumeration an ordinal counts when it names what it counts (第三个“全”, 最后一个转变, 第一对关系): the
    one most of whose items hold that word; [] when the ordinal names nothing or no list holds it. Several lists
    in one answer (an inline list inside an item) made the ordinal count the wrong one (dev4.jsonl: 2 of 14)."""
    m = re.match(r"[“\"]?([\u4e00-\u9fff]{1,2})[”\"]?", after)
    if not m:
        return []
    noun = m.group(1)
    scored = [(sum(noun in item for item in lst), -i, lst) for i, lst in enumerate(lists)]
    best = max(scored, default=(0, 0, []))
    return best[2] if best[0] >= max(2, (len(best[2]) + 1) // 2) else []


# Parallel clauses of one sentence ending in the same word (…由A向B转变，…由C向D转变，…由E向F转变) are a list too:
# dev12.jsonl, 1 of 12 conversations asked for 第三个转变 of such a sentence and got a refusal.
def parallel_clauses(text: str) -> list[list[str]]:
    """Runs of MIN_CLAUSE_ITEMS or more consecutive clauses of a sentence that end in the same two characters."""
    runs: list[list[str]] = []
    for sentence in re.split(r"[。！？\n]", text):
        clauses = [c.strip() for c in re.split(r"[，；]", sentence) if c.strip()]
        k = 0
        while k < len(clauses):
            j = k + 1
            while j < len(clauses) and len(clauses[j]) >= 4 and clauses[j][-2:] == clauses[k][-2:]:
                j += 1
            if j - k >= MIN_CLAUSE_ITEMS and len(clauses[k]) >= 4:
                run = clauses[k:j]
                run[0] = re.sub(r"^(?:促使|推动|促进|实现|要|需|应)", "", run[0])
                runs.append(run)
            k = j
    return runs


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
    for run in parallel_clauses(cit.strip_markers(answer)):
        key = (len(grams & set(bigrams("".join(run)))), len(run))
        if key > best_key:
            best, best_key = run, key
    for clause in re.split(r"[，。；：\n]", cit.strip_markers(answer)):
        parts = [p for p in clause.split("、") if p]
        if len(parts) == 2 and (joined := re.split(r"和|以及|及", parts[1], maxsplit=1)) and len(joined) == 2:
            parts = [parts[0], *joined]  # A、B和C (工业化全过程、产业体系全领域和生产活动全周期), as rag.items reads it
        if len(parts) < 3:
            continue
        # several enumerations in one quoted sentence: the one whose clause the question names
        key = (len(grams & set(bigrams(clause))), len(parts))
        if key > best_key:
            # (…可从A、B、C等方面 too: 第一个 after 傅晋华's 可从创新人才、创新平台载体… resolved to the clause
            # 创新能力强的地区可从创新人才, found while checking dev9.jsonl's why-question on 创新人才)
            parts[0] = re.sub(r"^.*?(表现出|包括|聚焦|通过|体现在|反映在|有|是|可从|从)", "", parts[0])
            parts[-1] = re.sub(r"(等|等特征|等方面|等领域|等产业).*$", "", parts[-1])
            best, best_key = parts, key
    return best
