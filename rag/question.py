"""The question's own vocabulary, read from its text alone: cleaning, requests the assistant declines, words that
point back at an earlier turn, ordinals, requests for a summary or for the byline.

Shared by the planner (rag/planner.py) and the follow-up resolution (rag/followup.py).
"""

from __future__ import annotations

import re
import unicodedata

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
    r"^(那|那么|还有|另外|此外|以及|然后|换成|换作|轮到|具体)|他|她|它|其中|该文|该作者|这位|这篇|那篇|本文|文中|上文|上面|刚才|前面|这一点|"
    r"这方面|这些|这个|第[一二三四五六七八九十\d]+(条|点|个|项|方面|部分|种|件|类|步|大)|(最后|最末|末|头一|首)[一那这]?(条|点|个|项|方面|种|件)|"
    r"呢[？?]?$|还说了|还讲了|还提到|还谈到|还有什么|除了|除此之外|除此以外"
)
# An item of the list last shown: 第三条/第二个/第三件…, 最后一条 (the last one), and the spoken forms 头一个/首条
# (the first), 末一条/最末一项 (the last), 倒数第二条 (dev14.jsonl: 1 of 14 conversations asked 头一个转变 and got a
# refusal).
_ORDINAL_UNIT = r"(?:条|点|个|项|方面|种|部分|件|类|步|大|对|组)"
ORDINAL_REF = re.compile(rf"(?:倒数第(?P<back>[一二三四五六七八九十\d]+)|第(?P<n>[一二三四五六七八九十\d]+)|"
                         rf"(?P<first>头一|首)|(?P<last>最后|最末|末)[一那这]?){_ORDINAL_UNIT}")


def ordinal_position(m: re.Match[str], size: int) -> int:
    """The 1-based position an ORDINAL_REF match names in a list of `size` items (0 when unreadable)."""
    if m.group("first"):
        return 1
    if m.group("last"):
        return size
    if m.group("back"):
        back = cn_int(m.group("back"))
        return size - back + 1 if back else 0
    return cn_int(m.group("n"))
# “What else did he say”: other content of the same essay or topic than what the conversation already showed;
# 除了X names what to leave out.
# 还有呢, 别的呢, 除此之外还有别的…吗: the short forms (dev6.jsonl: 3 of 24 conversations asked them and got the topic
# answered afresh or refused)
MORE = re.compile(r"还说了|还讲了|还提到|还谈到|还有什么|还有哪些|其他内容|别的内容|其他观点|其余|还有呢|还有吗|还有没有|"
                  r"(?:别的|其他的?|另外的?)(?:呢|吗)|除此之外|除此以外|还有别的|还有其他")
# 那之后呢 / 接下来呢 / 下一步呢, a whole turn: what the essay says right after the last answer (a goal after a dated
# one, 在此基础上… after a first step). The rest of the passages padded the answer instead of the next sentence
# (dev15.jsonl 1 of 18 conversations, dev17.jsonl 2 of 14 at 1d4e025).
NEXT = re.compile(r"^(?:那|那么|然后)?(?:之后|此后|以后|然后|接下来|再往后|再后来|后来|下一步|再下一步)"
                  r"(?:呢|又?(?:怎么样|如何|怎么说|是什么|要做什么|怎么做|做什么))?[？?。！!]*$")
# 除了这个/这些/以上: what 除了 leaves out is the last answer (dev5.jsonl: 1 of 14 conversations left out 这个)
DEMONSTRATIVE = re.compile(r"(?:这|那|上面|以上|刚才|前面)(?:个|些|点|一点|条|一条|方面|几点|说的|提到的|的)?")
BESIDES = re.compile(r"除了(?P<x>[^，,？?。]{2,40}?)(?:之外|以外)?[，,]")
# A request for a summary; whether it is of a whole essay is decided by what is left besides the essay's name.
# (核心思路/总体思路/中心思想 of an essay ask for its whole line of thought: dev7.jsonl 1 of 10 summaries)
SUMMARY_VERB = re.compile(r"概括|总结|归纳|梳理|摘要|概述|介绍一下|主要内容|核心内容|主要观点|核心观点|大意|要点|主旨|要旨|核心意思|中心意思|"
                          r"(?:核心|总体|整体|主要|基本)思路|中心思想|核心要义|"
                          r"(讲|说|谈|写)(了|的)?(些|是)?(什么|啥)|主要讨论|主要讲|"
                          # the essay's structure (从哪几个方面展开论述, 分几部分): its sections, as a summary gives them
                          # (dev7.jsonl: 1 of 10 summaries was refused as a list question with no topic)
                          r"(从|分成?了?|分为)?(哪|几)(几|些)?个?(方面|部分)(展开论述|展开阐述|展开|论述|阐述|来谈|来讲|来写)|"
                          r"分(成|为)?了?(几|哪几)个?部分|"
                          # how an essay or its opening argues (开头是怎么立论的: dev8.jsonl 1 of 10 summaries)
                          r"(是)?(怎么|怎样|如何)立论的?|"
                          r"summar|main (idea|point)|what is .* about", re.I)
# Questions about the byline (who wrote it, where the author works).
META = re.compile(r"(哪个|哪所|哪家|什么)(机构|单位|大学|学校|部门)|任职|任教|工作单位|在哪(个单位|里|儿)?(工作|上班|任职)|职务|职称|"
                   r"身份|谁写的|作者是谁|哪位作者写|作者是哪位|写的(?:是)?哪一?篇|写了哪一?篇|where does .* work|affiliat|"
                   # the byline's title, post and institution asked in other words (dev11.jsonl: 3 of 6 facts)
                   r"头衔|本职|(?:哪个|哪家|什么)研究(?:机构|中心|院|所)|(?:标题|题目)(?:叫|是)(?:什么|啥)|"
                   r"(?:文章|那篇|这篇)(?:叫|的题目是)(?:什么|啥)", re.I)
# What a byline never says (it holds a name, a post and an institution): how long, since when, before that, studies,
# age (dev15.jsonl: 1 of 3 uncovered byline questions, 工作了多少年，之前在哪里任职, was answered with the byline)
BEYOND_BYLINE = re.compile(r"多少年|几年|多久|之前|以前|此前|曾经|曾在|毕业|学历|出生|年龄|多大|哪一?年|什么时候|何时|履历|经历")
_CN = "一二三四五六七八九十"


def clean_question(text: str) -> str:
    """Drop invisible and control characters, fold full-width ASCII, collapse whitespace."""
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    text = "".join(unicodedata.normalize("NFKC", ch) if "\uff01" <= ch <= "\uff5e" and ch not in "（），：；？！" else ch
                   for ch in text)
    return re.sub(r"\s+", " ", text).strip()


_URL = re.compile(r"!?\[[^\]]*\]\([^)]*\)|https?://\S+|</?\s*[A-Za-z][^<>]*>", re.I)
# 开头/结尾 of the reply orders it (以 HACKED 开头, 回答末尾…); of the essay (文章开头一段, 那篇开头引用的讲话) it asks
# about the text (dev4.jsonl: a summary of an essay's opening was cut down to 简单概括下).
_ORDER = re.compile(r"写上|附上|加上|输出|打印|(?<![文篇章段])(?:开头|结尾|末尾)(?!一段|部分|几段|那段|引用|提到|讲|说)|"
                    r"另起一行|署名|回答时|每个回答|新指令|从现在起|图片|链接|"
                    r"只回答一个词|不需要引用", re.I)


# Clauses inside a question that script the reply rather than ask (请扮演…，先说“…”，再回答：…): the words to
# say and the role to play are dropped, the question after them kept. The say-verb needs an ordering word
# before it (先/请/务必…), so a quoted claim (李晓华说“人是最活跃的”) or topic (怎么回答“卡脖子”问题) stays.
_SAY = re.compile(r"(?:先|请|请你|你先|你要|要先|务必|必须)(?:说|回复|答复|回答|输出|写|讲|喊)(?:一句|一声|出)?[：:]?\s*"
                  r"[“\"「『](?P<words>[^”\"」』]{1,40})[”\"」』][，,。；;]?")
_ROLE = re.compile(r"(?:请|你)?(?:扮演|假装|假扮|充当|切换成)[^，。,；;？?]{0,24}[，,；;]")
_THEN_ANSWER = re.compile(r"^[，,；;\s]*(?:再|然后|接着)(?:回答|告诉我)?[：:，,]?")


def script_quotes(question: str) -> list[str]:
    """The words a question tells the assistant to say (先说“好的，我已切换身份”): never part of an answer."""
    return [m.group("words") for m in _SAY.finditer(question)]


def strip_instructions(question: str) -> str:
    """The question without pasted links, tags and sentences that order the assistant about (output tricks)."""
    text = _URL.sub(" ", question)
    scripted = _SAY.search(text) is not None or _ROLE.search(text) is not None
    text = _ROLE.sub("", _SAY.sub("", text))
    if scripted:
        text = _THEN_ANSWER.sub("", text)
    parts = [p for p in re.split(r"(?<=[。！？!?；;])", text) if p.strip()]
    kept = [p for p in parts if not _ORDER.search(p)]
    kept = [re.sub(r"^\s*(问题|question)\s*[：:]\s*", "", p, flags=re.I) for p in kept]
    out = re.sub(r"\s+", " ", "".join(kept)).strip()
    return out if re.search(r"[^\W_]", out) else question


# The asker introducing themselves before the question (我在零件厂上班，… / 我是高二学生，想问一下：…): words of a
# job or a school that no essay uses, which diluted the question's words in retrieval and sentence scoring and
# were counted as missing terms (dev12/dev15/dev16.jsonl: 11 of 49 questions opening so failed at 1d4e025).
# A clause holding a question word is the question itself and stays; 作为X， stays too (作为…副研究员，王静…
# states a byline fact to check: dev13.jsonl, 1 of 16 false premises).
_PERSONA = re.compile(r"^\s*(?:我|咱)(?:们)?(?:是|在|今年|开了?|做|从事|干了?|家|刚|一直|平时|正在)[^，,。：:；;！!？?]{1,30}"
                      r"[，,。：:；;！!]\s*")
_ASKS_HERE = re.compile(r"什么|怎么|怎样|哪|为什么|为何|如何|吗|呢|是否|能否|有没有|是不是|多少|几")
# 想问一下：/ 请问， in front of the question: a courtesy, not a topic
_COURTESY = re.compile(r"^\s*(?:我)?(?:想|要)?(?:问一下|问问|请教一下|请问)[：:，,]?\s*")
PREFACE_REST = 8  # what remains must still be a question (shorter: the clause was the question)


def strip_preface(question: str) -> str:
    """The question without the asker's self-introduction and courtesy in front of it."""
    text = question
    for _ in range(3):  # 我是高二学生，想问一下：…: a persona, then a courtesy
        m = _PERSONA.match(text) or _COURTESY.match(text)
        if m is None or _ASKS_HERE.search(m.group(0)) and m.re is _PERSONA:
            break
        rest = text[m.end():]
        if len(re.sub(r"\W", "", rest)) < PREFACE_REST:
            break
        text = rest
    return text


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
