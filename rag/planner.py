"""Question understanding: one typed Plan per question, shared by the extractive composer and the generated path.

    from rag.planner import Planner
    plan = Planner(essays, evidence).plan("其中第二条呢？", history, author=None, essay=None)
    plan.kind, plan.ask, plan.standalone, plan.author, plan.essay, plan.presupposition

What the planner decides, without retrieval (follow-ups through rag/followup.py, the question's vocabulary in
rag/question.py): what kind of answer is wanted (a cited answer, a summary of one
essay, a topic across essays, an overview, the byline), what the question asks for (a definition, a reason, a
way, a list, a time or number, a stance), which authors/essays/sections it refers to, what a follow-up refers
to in the conversation so far (the essay, the author, the items of the last list shown), and the claim a
question presupposes (checked against the passages by rag.premise).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from rag.evidence import EvidenceModel
from rag.followup import FollowUps, Rewriter
from rag.question import (
    BESIDES,
    DEMONSTRATIVE,
    FOLLOWUP,
    META,
    MORE,
    NEXT,
    SUMMARY_VERB,
    strip_instructions,
    strip_preface,
)
from rag.references import HONORIFICS, ReferenceFinder
from rag.sentences import bigrams
from rag.types import Essay, Turn

Kind = Literal["qa", "summary", "topic", "meta", "overview"]
Ask = Literal["definition", "reason", "way", "list", "time", "number", "stance", "fact"]
Language = Literal["zh", "en", "mixed"]

# Several essays or authors at once (几位作者, 四篇文章, 各篇文章, 作者们): a topic across essays or an overview.
# (这几篇里/各自的论述 too: dev12.jsonl 1 of 6 summaries, a word's use across the essays, quoted one essay only)
_TOPIC_ACROSS = re.compile(r"([几两三四五六七八九各每]|所有|不同|这些|哪些)(位|篇)?(作者|文章|专家|学者|老师|研究员)|作者们|"
                           r"(分别|各自)(是)?(怎么|如何|怎样)(看|讲|说|论述|谈)|(?:这|那)?几篇(?:里|中|当中)|"
                           r"各自的(?:论述|观点|看法|说法)")
# Words a question uses for the authors themselves (各位专家怎么看……) or for their discourse (这个话题, 侧重点, 提出了
# 哪些建议, 讲到了): never the topic of a question across the essays.
_PEOPLE = frozenset({*HONORIFICS, "大家", "专家", "作者", "作者们", "研究者", "各位", "诸位", "他们", "她们", "人们",
                     "话题", "议题", "领域", "建议", "侧重点", "侧重", "角度", "层面", "说法", "比较", "事情",
                     "讲到", "说到", "谈及", "提及", "论及", "涉及", "阐述", "讲述", "论述",
                     # what a comparison compares (着眼点有什么异同, 都关心…, 提出的办法): dev10.jsonl, 2 of 4
                     # comparisons were refused on 着眼点 and 关心, words the essays never use
                     "着眼点", "出发点", "落脚点", "切入点", "视角", "立场", "异同", "不同点", "相同点", "共同点", "差异",
                     "区别", "关心", "关注", "办法", "看法", "观点", "主张", "想法",
                     # the request itself (汇总一下各自的论述): dev12.jsonl 1 of 6 summaries refused on 汇总
                     "汇总", "归纳", "总结", "概括", "梳理", "用法",
                     # ...and what it asks to be given (归纳一下各自要点: dev13.jsonl 1 of 3 summaries refused on 要点)
                     "要点", "大意", "主旨", "要旨", "核心内容", "主要内容"})
# What the question asks for, by its interrogative (checked in this order; the first match wins: 为什么要转变 asks
# for a reason, 什么是…的特征 for a definition, 有哪些特征 for a list).
_ASKS: tuple[tuple[Ask, re.Pattern[str]], ...] = (
    # (依据/好处 ask what supports a view or what it brings: dev8.jsonl 1 of 10 why-questions read as a stance)
    ("reason", re.compile(r"为什么|为何|原因|理由|何以|凭什么|依据|好处|意义何在|why", re.I)),
    # (怎么定位的/什么定位 ask what it is: dev13.jsonl 1 of 6 definitions quoted another term's sentences)
    ("definition", re.compile(r"什么是|是什么意思|指的是|是指|指什么|含义|定义|意味着什么|是什么概念|什么叫|何谓|"
                              r"(?:怎么|怎样|如何|是)定位|什么定位|定位是什么|"
                              r"^what is|^what does .* mean|defin", re.I)),
    ("list", re.compile(r"哪些|哪几|哪[一二三四五六七八九两]|几个|几项|几条|几种|几方面|几点|逐条|列出|列举|举措|措施|路径|途径|"
                        r"特征|表现在|方向|转变|任务|重点|which|what are|list", re.I)),
    # (时间目标/时间表 ask when too: dev15.jsonl 1 of 18 conversations opened with 有什么时间目标, answered with a
    # sentence about 目标 and no date)
    ("time", re.compile(r"什么时候|何时|哪一年|哪年|到哪年|时间目标|时间表|时间节点|什么时间|when", re.I)),
    ("number", re.compile(r"多少|几成|比例|占比|how many|how much", re.I)),
    ("way", re.compile(r"怎么|怎样|如何|靠什么|从哪|途径|办法|做法|抓手|how", re.I)),
    ("stance", re.compile(r"怎么看|如何看|看法|观点|立场|态度|主张|认为|对吗|是吗|对不对", re.I)),
)
# An essay's opening, as a part to summarise (王成仁那篇文章开头一段的核心意思): its first section.
_OPENING = re.compile(r"开头(?:一段|部分|几段|那段)?|引言|导语|第一段")
# "按照X的说法，CLAIM，…": a claim reported, then a question about it.
# (or running to the question mark, the reported claim itself put to the essays: 按傅晋华的说法，欠发达地区反正追不上…，
# 发展新质生产力也只能维持现状？ dev8.jsonl 1 of 16 false premises)
_HEARSAY = re.compile(r"(?:(?:按照|按|根据|依照|照)的?(?:说法|观点|看法|意思)[，,]\s*|听说|据说|有人说|有(?:一)?种说法(?:是|认为)?)"
                      r"(?P<claim>[^？?。]{4,80}?)(?:[，,][^，,？?]*(?:为什么|为何|原因|理由|依据|根据|怎么|怎样|如何|哪|什么|吗|呢|吧)|"
                      r"(?<![吗呢么])[？?]$)")
# A stated claim, then a question about it: "X认为CLAIM，原因在哪里/他是怎么论述的/是哪三个" (dev.jsonl: 3 of 14
# false premises are put this way; the claim itself must ask nothing, so 认为如何增强…，… is not one).
# (提到/谈到 report a claim as 说 does: dev7.jsonl 1 of 16 false premises, 傅晋华提到…差不多，那…)
# (…，这样真能…吗: a doubt about the claim asks about it too: dev11.jsonl 1 of 14 false premises)
_STATED = re.compile(r"(?:主张|认为|说|提出|提到|谈到|讲到|强调|提倡|鼓励|倡导|赞成|觉得)(?P<claim>[^？?。]{4,80})[，,]\s*[^，,？?]*"
                     r"(?:为什么|为何|原因|理由|依据|怎么|怎样|如何|哪|什么|难道|吧|真能|真的|吗)")
# How the author files things (把X归成Y、把Z归成W，这么分的依据是什么): the filing is taken for granted (dev11.jsonl:
# 1 of 14 false premises swapped two categories and was answered as if true).
_FILING = re.compile(r"(?P<claim>把[^？?。，,]{2,20}?(?:归成|归为|归入|算作|算成|当成|当作|列为|看作|视为)[^？?。]{2,60}?)[，,]\s*"
                     r"[^，,？?]*(?:为什么|为何|依据|理由|根据|怎么|什么)")
# A stance stated as the whole question, rising at its end (X认为…，所以可以先把环保往后放一放？): the statement is put
# to the essays like a tag question's (dev11.jsonl: 1 of 14 false premises); it must ask nothing itself.
_STATED_ASKED = re.compile(r"^[^，,？?。]{0,6}?(?:主张|认为|提倡|鼓励|觉得|强调)(?P<claim>[^？?。]{6,80}?)[？?]$")
# "CLAIM是在…时说的，…还强调了什么": a fact stated as a cleft sentence before the question (dev3.jsonl: 1 of 18).
_CLEFT = re.compile(r"^(?P<claim>[^？?。，,]{2,30}是[^？?。，,]{4,40}(?:说|提|讲|写|强调|提出)的)[，,][^？?]*(?:什么|哪|怎么|如何|吗|呢)")
# "难道不是说CLAIM吗": a rhetorical question takes CLAIM for granted (难道X吗 without 不是 presupposes the opposite
# of X and is left alone). dev3.jsonl: 1 of 18 false premises is put this way.
# (X不也主张CLAIM吗 / 不就是说CLAIM吗: the same rhetorical form without 难道, dev13.jsonl 1 of 16 false premises)
_RHETORICAL = re.compile(r"(?:难道(?:不是|不就是)|不也|不是也|不也是|不就是|不正是)(?:说|认为|主张|提出|强调|觉得)?"
                         r"(?P<claim>[^？?。]{4,80}?)[了]?吗")
# "X提出CLAIM，…，他为什么这样建议": the question points back (这样/这么/如此) at the statement before it.
_POINTED_BACK = re.compile(r"^(?:要|会)?(?:这样|这么|如此)")
# (讲/谈到/提到 report it as 说 does: dev13.jsonl 1 of 16 false premises, 王成仁讲…，他为什么这么看重…)
_STATED_BEFORE = re.compile(r"(?:主张|认为|说|讲|提出|提到|谈到|强调|提倡|建议|觉得)(?P<claim>[^？?。]{4,80}?)[，,]\s*(?:他|她|作者)?"
                            r"(?:为什么|为何)")
# A tag question takes its statement for granted: "CLAIM吧？/对吧？/是吗？" (blind3.jsonl: 1 of 7 false premises,
# 西方国家……没走过先污染后治理的老路吧); the statement must ask nothing itself.
# (对不对/对么 too: dev8.jsonl 1 of 16 false premises)
_TAGGED = re.compile(r"^(?P<claim>[^？?。！!]{6,80}?)[，,]?(?:对吧|是吧|没错吧|对吗|是吗|对不对|对么|是这样吗|吧)[？?]")
# A statement conceded before a why (未来产业的技术路线都已经定型了，为什么还要…; …增长慢，凭什么还把它当成…): the
# asker takes it as the essays' fact (dev9.jsonl: 2 of 7 false premises put the false part there, unchecked).
_CONCEDED = re.compile(r"^(?P<claim>[^？?。，,]{4,40}(?:[，,、][^？?。，,]{2,30})?)[，,]\s*[^，,？?]{0,12}?"
                       r"(?:为什么|为何|凭什么|怎么|干嘛|何必)(?:还|却|仍|仍然|又|反而)")
# A stance or fact the question takes for granted: "X为什么主张/认为/说 CLAIM", "X认为CLAIM，对吗", "既然CLAIM".
_PRESUPPOSE = (
    _HEARSAY,
    re.compile(r"既然(?P<claim>.{4,60}?)[，,]"),
    re.compile(r"(?:为什么|为何|凭什么)(?:会|要)?(?:主张|认为|说|提出|强调|坚持|要求|建议|提倡|鼓励|觉得)?(?P<claim>.{4,60}?)(?:[？?。！!]|$)"),
    re.compile(r"(?:主张|认为|说|提出|强调|提倡|鼓励|倡导|赞成|建议|觉得)(?P<claim>.{4,60}?)[，,]?\s*(?:对吗|是吗|是这样吗|对吧|是吧|没错吧|对不对|是不是|理由是什么|为什么)"),
    # a tag question's statement is the whole of it (李晓华认为…，别的都是次要的吧？): before the stated-claim frame,
    # which would take its last clause for the question (dev8.jsonl: 1 of 16 false premises lost its cue so)
    _TAGGED,
    _STATED,
    _FILING,
    _STATED_ASKED,
    _RHETORICAL,
    _CLEFT,
)
# An English claim frame: "Why does X argue/say/want … that CLAIM", "Since CLAIM, …" (dev2.jsonl: 3 of 16 false
# premises); the claim is checked against the Chinese sentences retrieved for it (rag.premise.check_english).
_EN_PRESUPPOSE = (
    re.compile(r"\b(?:why|how come)\b.*?\b(?:argue|say|think|believe|claim|want|insist|propose|suggest|hold|maintain)s?\b"
               r"\s+(?:that\s+)?(?P<claim>[^?]{6,160})", re.I),
    re.compile(r"^\s*since\s+(?P<claim>[^,]{6,160}),", re.I),
)
# What a list question asks for and how, without what about (哪几条…措施, 提出了哪些主张): a list question left with
# no words but these and its essay's title words asks for the essay's own points (dev7.jsonl: 1 of 8 conversations
# was answered with an inline list of one passage, and its ordinal follow-up resolved against it).
_LIST_WORDS = re.compile(r"哪(?:几|些)?[一二三四五六七八九十两]?(?:条|个|项|点|方面|部分|大)?|几(?:条|个|项|点|大)|"
                         r"措施|举措|对策|建议|做法|路径|方向|主张|思路|任务|重点|要点|着力点|提出了?|提了|列举了?|列出了?|有|"
                         r"分别|具体")
_ASKING = re.compile(r"为什么|为何|怎么|怎样|如何|哪|什么|多少|几|吗|呢")
# A yes/no question puts a proposition to the essays: "…是不是(该)CLAIM？", "是否CLAIM": the proposition is
# checked as a claim (今后是不是该转回依靠要素投入 against 由要素驱动向创新驱动转变; blind3.jsonl 1 of 7 false
# premises). 要不要/该不该 ask without leaning and are left alone.
_PROPOSED_REASON = re.compile(r"(?:是不是|是否|难道是|莫非是)(?:因为|由于)(?P<claim>[^？?。]{4,60}?)[呢吗]?[？?]")
# The proposition runs to the question mark (是不是要等A完成了，再B？: dev8.jsonl 1 of 16 false premises), or to the
# first comma when what follows asks its own question.
_PROPOSED = re.compile(r"(?:^|[，,])(?P<pre>[^，,？?。]{0,20}?)(?:是不是|是否)(?P<rest>[^？?。]{4,60}?)[呢吗]?[？?]")


# The term a definition question asks about: quoted (“经济效益”), after 什么是/什么叫, or before 是什么意思/指什么.
_DEFINED = (re.compile(r"[“\"「『](?P<t>[^”\"」』，。？?]{2,16})[”\"」』]"),
            re.compile(r"什么(?:是|叫)(?:所谓的?)?(?P<t>[^？?，,。！!]{2,20}?)[？?。！!]?$"),
            re.compile(r"(?P<t>[^，,？?。“”\s]{2,20}?)(?:到底|究竟)?(?:是什么意思|指的是什么|是指什么|指什么|的含义|的意思|是什么概念|"
                       r"意味着什么|怎么理解|如何理解)"))


def defined_term(question: str) -> str:
    """What a definition question defines (经济效益 in 新型工业化特征里讲的“经济效益”，在文中是什么意思), or ""."""
    for pattern in _DEFINED:
        m = pattern.search(question)
        if m:
            term = re.sub(r"^(?:文中|文章中?|这篇文章里?|里面?|所谓的?|说的|讲的|提到的|的)+", "", m.group("t"))
            if len(term) >= 2:
                return term
    return ""


def language_of(text: str) -> Language:
    """zh when the question is written in Chinese, en when it has no Chinese at all, mixed otherwise."""
    han = len(re.findall(r"[\u3400-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]{2,}", text))
    if han == 0 and latin:
        return "en"
    return "mixed" if latin else "zh"


_COUNTING = re.compile(r"哪(?:几|些)?[一二三四五六七八九十两]?(?:个|项|条|种|大|点|件|类|方面)?|几(?:个|项|条|种|大|点|件|类)")
_COUNTED_BEFORE = re.compile(r"([\u4e00-\u9fff]{2})(?:有|包括|分别是|主要有|是)(?:哪些|哪几|什么)")


# The essays' word for what a list question counts, when the asker uses another (general language): 特点 for
# their 特征, 措施 for 举措, 途径/路子 for 路径, 路线 for 方向, 变化 for 转变. It replaces the asker's word in the query
# and joins the counted nouns (dev14.jsonl: 1 of 14 conversations asked 哪些特点 and got another list, the features
# list not retrieved; dev12.jsonl: 几条主攻路线 was refused; 做法 for 举措 moved blind3.jsonl's 哪些具体做法 to another
# essay's sentences and is left out).
LIST_SYNONYMS = {"特点": "特征", "措施": "举措", "途径": "路径", "路子": "路径", "路线": "方向", "变化": "转变"}


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
    out += [LIST_SYNONYMS[n] for n in out if n in LIST_SYNONYMS]
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
    # a reason the asker proposes besides (主张X，是不是因为Y: Y), checked when the claim holds
    reason: str = ""


def presupposition_of(question: str, authors: Sequence[str]) -> Presupposition | None:
    """The claim after a stance cue (为什么主张…, 认为…对吗, 既然…), author names removed; a statement the
    question concedes before asking why (X了，为什么还Y) is the claim, and the asked Y checked besides."""
    q = question
    for a in authors:
        q = q.replace(a, "")
    if not re.search(r"[\u4e00-\u9fff]", q):
        found = next((m for p in _EN_PRESUPPOSE if (m := p.search(q))), None)
        return Presupposition(found.group("claim").strip(" .")) if found else None
    asked = _asked_presupposition(q)
    conceded = _CONCEDED.search(q)
    if conceded is not None and not _ASKING.search(conceded.group("claim")):
        # the cue that opens it (既然/听说 …) is no part of what is claimed
        claim = re.sub(r"^(?:既然|听说|据说|有人说|我听说|我看文章说|其实)?(?:文章|作者)?(?:主张|认为|说|提出|觉得|讲)?", "",
                       conceded.group("claim").strip("，, "))
        if len(re.findall(r"[^\W_]", claim)) >= 6:
            return Presupposition(claim, asked.claim if asked is not None and asked.claim != claim else "")
    return asked


def _asked_presupposition(q: str) -> Presupposition | None:
    """The claim the question itself is about, by its stance cue."""
    # 反对X is a stance whose word is part of the claim (反对…参与国际标准制定 against 支持…参与): read as 主张反对X
    # (dev11.jsonl: 1 of 14 false premises was checked on the clause after it)
    q = re.sub(r"(?<!主张)(?<![不要])(反对|不赞成|不主张|不支持)", r"主张\1", q)
    # 说白了/说到底 are fillers, no stance verb (dev8.jsonl: 1 of 16 false premises had its claim start at 白了)
    q = re.sub(r"说白了|说到底|说穿了|说实话|说真的|换句话说|也就是说", "", q)
    # 主张X，是不是因为Y: the stance X is the question's topic, the proposed reason Y its doubtful part (dev7.jsonl:
    # 2 of 16 false premises put the false claim after 是不是因为)
    because = _PROPOSED_REASON.search(q)
    reason = because.group("claim").strip("，, ") if because else ""
    for pattern in _PRESUPPOSE:
        m = pattern.search(q)
        if m:
            claim = re.sub(r"[呢吗啊]+$", "", m.group("claim").strip("，,。 ：:“”\"")).strip("，,")
            claim = re.sub(r"^(?:(?:文章|作者|的文章|在文章中|文中)(?:中|里)?)?(?:主张|认为|说|提出|觉得)?", "", claim)
            claim = re.sub(r"^过?[，,]\s*|^过", "", claim)  # 说过CLAIM: the aspect mark is no part of it (dev11.jsonl)
            claim = re.sub(r"[，,]\s*这(?:是|样)?$", "", claim)  # 主张CLAIM，这是为什么
            claim = re.sub(r"[，,]\s*(?:这么|这样)(?:理解|说|讲|看)$", "", claim)  # CLAIM，这么理解没错吧
            claim = re.sub(r"[，,]\s*(?:他|她|作者|其)的?$", "", claim)  # 说CLAIM，他的理由是什么
            # 只强调X: the restriction before the cue is part of what is claimed (dev9.jsonl: 1 of 7 false premises
            # lost its 只 and was checked as the plain, true 加大基础研究投入)
            only = re.search(r"(?:只|光|仅仅?|单单)(?:主张|认为|说|提出|提到|谈到|讲到|讲|谈|提|强调|提倡|重视|注重|关注)$",
                             q[:m.start("claim")])
            if only is not None:
                claim = only.group(0) + claim
            if pattern is _TAGGED:  # …，那质量就不用管了吧: what the asker infers from the claim is not the claim
                claim = re.split(r"[，,]\s*(?:那么|那|所以|因此|因而)", claim)[0]
            if _POINTED_BACK.match(claim) and (back := _STATED_BEFORE.search(q)):
                claim = back.group("claim").strip("，, ")
            # a clause before a question is a claim only when it asks nothing itself; 王静说的要素协同 names a topic
            # (没什么差距 states, it does not ask: dev7.jsonl 1 of 16 false premises)
            # (几 counting, not asking: 这几年, 几十, 几次…以后 as a time clause: dev13.jsonl 1 of 16 false premises)
            asks = _ASKING.search(re.sub(r"没有?(?:什么|多少)|不怎么|没怎么|[这那近前头好]几|几[十百千万]|"
                                         r"几[次年][^，。？?]{0,12}?(?:以后|之后|以来|后)", "", claim))
            if pattern in (_STATED, _FILING, _STATED_ASKED, _HEARSAY, _CLEFT, _TAGGED) and (asks or claim.startswith("的")):
                continue
            if len(re.findall(r"[^\W_]", claim)) >= 4:
                return Presupposition(claim, reason if reason and reason not in claim else "")
    proposed = _PROPOSED.search(q)
    rest = proposed.group("rest") if proposed is not None else ""
    if _ASKING.search(rest) or re.search(r"用不用|要不要|该不该|能不能", rest):
        rest = re.split(r"[，,]", rest)[0]  # 是不是关起门来自己干就行，用不用跟国外打交道: the first clause
    if proposed is not None and len(rest) >= 4 and not _ASKING.search(rest) \
            and not re.match(r"(?:认为|主张|说|提出|觉得)", rest):
        return Presupposition(proposed.group("pre") + rest)
    return None


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
    after: str = ""  # the last answer, when “那之后呢” asks for the sentence the essay says next
    nouns: tuple[str, ...] = ()  # what a list question counts (哪几个转变 → 转变), candidates for the composer
    presupposition: Presupposition | None = None
    language: Language = "zh"
    needs_context: bool = False  # a follow-up with nothing before it to resolve against
    topic: tuple[str, ...] = ()  # a topic question's words the essays use (人才; 基础研究), for summarising it
    section: int = -1  # the section of `essay` a summary is of (-1: the whole essay)
    outline: bool = False  # a list question about the essay as a whole (傅晋华提出了哪几条强化区域创新的措施)
    term: str = ""  # what a definition question defines (经济效益), for the composer to quote the sentence that does

    @property
    def filtered(self) -> bool:
        """True when the user set an author or essay filter."""
        return bool(self.filter_author or self.filter_essay)




class Planner:
    """Turns a question, the conversation so far and the filters into a Plan."""

    def __init__(self, essays: Sequence[Essay], evidence: EvidenceModel) -> None:
        self.essays = list(essays)
        self.evidence = evidence
        self.finder = ReferenceFinder.for_essays(self.essays)
        self.followups = FollowUps(self.mentions, evidence, [e.author for e in self.essays if e.author])

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
        ctx = self.followups.context(history)
        q = strip_preface(strip_instructions(question))
        standalone, item = q, ""
        if ctx.essay is not None or ctx.standalone:
            standalone, item = self.followups.resolve(q, history, ctx, rewrite)
        followup = standalone != q
        exclude: tuple[str, ...] = ()
        shown = ""
        if followup and MORE.search(q):
            besides = BESIDES.search(q)
            if besides and DEMONSTRATIVE.fullmatch(besides.group("x")):
                besides = None  # 除了这个: the last answer itself, not a phrase to leave out
            exclude = (besides.group("x"),) if besides else ((ctx.shown,) if ctx.shown else ())
            # with nothing named, what else the passages just quoted say; with a topic of its own, more on it
            shown = "" if besides or self.followups.own_terms(q, ctx.shown) else ctx.shown
        after = ctx.shown if followup and NEXT.fullmatch(q.strip()) else ""
        authors, titled = self.mentions(standalone)
        by_name = [e for e in authors if e.author in standalone]
        if by_name and len(by_name) < len(authors) and not _TOGETHER.search(standalone):
            # 作为中国国际经济交流中心的副研究员，王静…: the institution is said of the author named, not of a second
            # author to compare (the byline check then says whose it is: dev13.jsonl 1 of 16 false premises)
            authors = by_name
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
                    exclude=exclude, shown=shown, after=after, nouns=list_nouns(standalone), language=language_of(standalone))
        # (a question naming its author or essay has its context: 王成仁这篇主要写的是什么, dev12.jsonl 1 of 12
        # conversations opened so and was asked for context)
        needs_context = (not history and FOLLOWUP.search(q) is not None and not authors and titled is None
                         and not self.evidence.terms(FOLLOWUP.sub(" ", q)))
        if len(authors) >= 2 and titled is None and not essay and not author:
            return replace(base, kind="topic", essays=tuple(authors), topic=self.topic_terms(standalone))
        # the byline is asked in the clause that asks (王静任教于陕西，她对西安…有什么建议 states it, then asks about
        # something else: dev3.jsonl 1 of 20 uncovered questions was answered with the byline)
        asking = re.split(r"[，,；;]", standalone.rstrip("？?。 "))[-1]
        # 谁是/哪位作者是 + a byline's institution or post (西北政法大学的教授) asks who holds it: the byline answers
        # (dev14.jsonl: 1 of 6 byline facts was answered with the essay's opening, 谁是…教授 was refused)
        by_byline = len(authors) == 1 and authors[0].author not in standalone and _WHO.search(asking) is not None
        meta = META.search(asking) is not None or by_byline
        if meta and chosen_essay is None and not authors and ctx.essay is not None:
            # 作者在哪工作？ after a turn about one essay names no one: it asks that essay's author (blind.jsonl:
            # 1 of 10 conversations refused its affiliation follow-up, the byline holding the answer)
            chosen_essay = ctx.essay
        if meta and (chosen_essay is not None or authors):
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
        if SUMMARY_VERB.search(standalone) and (part := self._summarised_section(standalone, chosen_essay)):
            return replace(base, kind="summary", author=part[0].author, essay=part[0], section=part[1])
        presupposition = presupposition_of(standalone, [e.author for e in self.essays]) if not item else None
        outline = base.ask == "list" and base.language == "zh" and not item and chosen_essay is not None and \
            self._is_whole_essay(_LIST_WORDS.sub("", standalone), chosen_essay)
        term = defined_term(standalone) if base.ask == "definition" else ""
        return replace(base, author=plan_author, essay=chosen_essay, presupposition=presupposition,
                       needs_context=needs_context, outline=outline, term=term)

    def _summarised_section(self, q: str, essay: Essay | None) -> tuple[Essay, int] | None:
        """The one section a summary question is about: named by its title (“明确提质增效着力点”这一部分讲了什么)
        or as the essay's opening (开头一段, 引言), with little other topic left. dev4.jsonl: 2 of 4 summaries
        asked for a section and got the sentences of another part."""
        refs = self.finder.find(q)
        found = {(r.essay_id, r.section_index, r.title) for r in refs.sections}
        rest = q
        if len(found) == 1:
            eid, si, title = next(iter(found))
            essay = next((e for e in self.essays if e.id == eid), None)
            named = {i for a, b in refs.section_spans for i in range(a, b)}  # spans may overlap
            rest = "".join(ch for i, ch in enumerate(q) if i not in named)
        elif essay is not None and (m := _OPENING.search(q)):
            si = 0
            rest = rest[:m.start()] + rest[m.end():]
        else:
            return None
        if essay is None:
            return None
        return (essay, si) if self._is_whole_essay(rest, essay) else None

    def _is_whole_essay(self, q: str, essay: Essay) -> bool:
        """True when, after removing the essay's name and summary words, little topic is left. Words of the title
        describe the essay (谈新型工业化的那篇, 讲提升产业体系现代化水平的那篇), not a topic inside it."""
        rest = q.replace(essay.title, "").replace(essay.author, "")
        rest = _title_words_removed(rest, essay.title)
        rest = SUMMARY_VERB.sub("", rest)
        # counting words around a summary word (有哪几个要点) ask for the points, not for a topic
        rest = re.sub(r"有?哪(?:几|些)[个条点项]?|有?几[个条点项]", "", rest)
        # 总体/整体/总的来说 ask for the whole (dev6.jsonl: 3 of 24 conversations refused 这篇文章总体讲了什么)
        # (关于/有关 introduce the title's words: 李晓华关于新型工业化的那篇文章, dev9.jsonl 1 of 6 summaries refused)
        # the form the summary should take (三五句话的简版, 概括给我听听) is no topic either (dev12.jsonl: 2 of 6
        # summaries refused)
        rest = re.sub(r"[一二两三四五六七八九十几\d]+(?:句|段|点)话?|简版|简短|精简|简明|扼要|来个|来一?段|听听|看看|中心论点|论点|"
                      r"主要主张|主张", "", rest)
        rest = re.sub(r"总的来说|总体上?|整体上?|大体上?|《[^》]*》|请|帮我|给我|一下|关于|有关|对于|用|几句话|简要|简单|说说|讲讲|能|地|的|文章|"
                      r"这篇|那篇|该文|一文|全文|还|了|些|"
                      r"什么|主要|核心|内容|观点|是|谈|讨论|讲|说|呢|吗|她|他|这一?部分|这一?节|这一?段|里|中|下|"
                      r"[\W_\d]|[A-Za-z]", "", rest)
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


_INTERROGATIVE = frozenset({"哪个", "哪家", "哪些", "哪位", "哪种", "哪类", "哪所", "什么", "什么样", "多少", "几"})
# Words naming the kind of answer rather than a kind of thing (有什么建议, 哪些措施): the essays give them without
# using the word, so they are never the question's focus.
_TOGETHER = re.compile(r"和|与|跟|同|及|、|对比|比较|分别|各自")  # two authors put side by side
_WHO = re.compile(r"谁|哪一?位|哪个作者|哪名|who\b", re.I)  # a question asking for a person
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
