"""Checks on a generated answer before it is shown: pure functions over the answer, its cited passages and the
question, ending in a typed verdict.

A small model's answer can look fine and be useless: the same sentence three times (`一是全面增强自主创新能力。[1]
二是全面增强自主创新能力。[1]…`), list items cited to passages that do not contain them, the prompt's own
instruction echoed back, markers that point nowhere, or text about something other than the question. Each such
sentence is dropped; when too little survives the caller shows the extractive answer instead, with a notice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import prompts
from rag import citations as cit
from rag.types import Chunk

_MARKER = re.compile(r"\[(\d{1,3})\]")
_SENT_END = "。！？!?；;\n"
# Enumeration scaffolding that says nothing by itself: “一是”“第二，”“3.”“（4）”“首先”.
_ORDINAL = re.compile(r"^\s*(?:[-•*]\s*)?(?:[一二三四五六七八九十]+是|第[一二三四五六七八九十\d]+[，、,:：]?|\d+[.、)]|"
                      r"[（(]\d+[）)]|首先|其次|再次|最后|此外|另外|同时)[，,、:：\s]*")
_QUESTION_WORDS = re.compile(r"什么|哪些|哪几|哪个|哪位|怎样|怎么|如何|为什么|为何|是否|能否|有没有|请问|请|简要|概括|说明|"
                             r"介绍|文章|作者|认为|提到|指出|主要|有关|关于|方面|内容|的|了|吗|呢|是|有|和|与|在|对|"
                             # what a question asks for rather than about: the answer need not repeat it
                             r"举措|措施|特征|特点|意义|原因|作用|观点|看法|途径|路径|方法|目标|要求|问题|建议|表现|"
                             r"体现|重点|关键|影响|区别|关系|含义|定义|几点|几个|哪里|为什么要|要求")

# A near-duplicate: this share of the shorter sentence's bigrams is in an earlier sentence. The degenerate
# answers seen from the 1.5B model repeat a sentence exactly after a different ordinal (overlap 1.0); the 14
# distinct 一是/二是 items of the seed essays overlap at most 0.6 (深化开放合作 / 推进开放合作创新; tests/test_verify.py).
DUPLICATE_OVERLAP = 0.85
# ... and the shorter has at least this share of the longer's bigrams: on the shipped set's offline answers,
# without it 4 answers had a list item “duplicating” the sentence that lists every item; with it 1 is left,
# a comparison quoting one sentence twice.
DUPLICATE_SIZE_RATIO = 0.5
# Short claims (list items, under this many bigrams) need trigram support too: a bigram share lets
# “推动数字化转型” pass against a passage about 绿色化转型 (0.5), the trigram share does not (0.2). On the seed
# essays' list items cited to another item's paragraph, bigrams alone pass 18 of 174, with trigrams 8; no item
# fails against its own paragraph, and the short faithful paraphrases of the tests keep trigram shares >= 0.42.
SHORT_CLAIM_GRAMS = 14
TRIGRAM_SUPPORT = 0.3
# An echo of the prompt: at least this many bigrams found in the instructions but in neither the sources nor
# the question, making up this share of the sentence (`这些措施需要根据资料编号…来回答` has 4 of 14).
ECHO_MIN_GRAMS = 3
ECHO_SHARE = 0.2
# Uncited sentences shorter than this (in bigrams) are connectives (“主要有三点：”), kept without support.
CONNECTIVE_GRAMS = 8
# Too little survives: more than this share of the content sentences dropped. The degenerate answers lose
# two thirds or more; an ordinary answer with one loose sentence out of four keeps its answer.
MAX_DROPPED_SHARE = 0.5

_REASON_LABELS = {
    "repeated": "句子重复",
    "unsupported": "所引原文不支持",
    "uncited": "原文中找不到依据",
    "echo": "复述了提示内容",
    "off_topic": "没有回答所问的问题",
    "absent": "谈到了文章没有涉及的内容",
    "empty": "没有可用的内容",
    "missing_items": "漏掉了文章所列的条目",
    "missing_authors": "没有引用所问的每位作者",
    "dropped_quotes": "漏掉了原文中回答问题的大部分内容",
}


@dataclass(frozen=True)
class Expected:
    """What a complete answer to this question contains, known before the model writes: every item of the list
    the question asks for, and every author a comparison asks about (cited)."""

    items: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    # the sentences a small model was given to answer from (the offline answer's own): its answer must keep
    # KEPT_MIN of their character pairs
    quoted: str = ""
    # the question's nouns that no passage the model saw holds (低空 in 傅晋华怎么看低空经济的发展前景): a sentence
    # naming one says something the essays do not (the packaged model wrote 傅晋华认为低空经济的发展前景是积极的,
    # the rest of the sentence copied from its passage, so the bigram support passed)
    absent: tuple[str, ...] = ()


# A list item counts as given when this share of its bigrams is in the answer: a faithful restatement keeps
# the item's head words (“推进数智化转型”), while the 1.5B model's incomplete lists drop whole items (share 0).
ITEM_PRESENT = 0.5


# A small model given only the sentences that answer keeps at least this share of their character pairs. On
# dev7.jsonl with the packaged 1.5B model, the generated answers kept 0.29-1.0; of the four below 0.4, two lost
# the item the question asked about (a topic's second author's sentences, an item's how-to) where the quoted
# answer passed, one failed either way, one passed either way; the faithful answers kept 0.53 or more.
KEPT_MIN = 0.4


def kept_share(answer: str, quoted: str) -> float:
    """Share of the quoted sentences' character pairs that the answer repeats."""
    q = grams(cit.strip_markers(quoted))
    return len(q & grams(cit.strip_markers(answer))) / len(q) if q else 1.0


def missing_expected(text: str, cited: Sequence[tuple[int, Chunk]], expected: Expected) -> str:
    """The reason label key when the answer leaves out a list item or a compared author, or most of the
    sentences it was given, else ""."""
    if expected.quoted and kept_share(text, expected.quoted) < KEPT_MIN:
        return "dropped_quotes"
    answer = grams(cit.strip_markers(text))
    for item in expected.items:
        g = grams(item)
        if g and len(g & answer) / len(g) < ITEM_PRESENT:
            return "missing_items"
    authors = {c.author for _, c in cited}
    if any(a not in authors for a in expected.authors):
        return "missing_authors"
    return ""


@dataclass(frozen=True)
class Dropped:
    """A sentence taken out of the answer and why (a key of the reason labels)."""

    sentence: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    """The checked answer: kept text (markers renumbered), its citations, what was dropped, and whether the
    caller must show the extractive answer instead; `notice` is the one line to show the user ("" for none)."""

    text: str
    cited: list[tuple[int, Chunk]]
    dropped: list[Dropped] = field(default_factory=list)
    fallback: bool = False
    reason: str = ""
    notice: str = ""

    @property
    def changed(self) -> bool:
        """True when the kept text differs from what the model produced (something was dropped)."""
        return bool(self.dropped) or self.fallback


@dataclass(frozen=True)
class _Sentence:
    raw: str  # as written, markers and trailing line break included
    body: str  # without markers, stripped
    nums: tuple[int, ...]


def split(text: str) -> list[_Sentence]:
    """The answer's sentences with the markers each one carries (markers right after a stop count)."""
    parts = cit.split_marked(text, keep_newlines=True)
    return [_Sentence(p, cit.strip_markers(p).strip(), tuple(int(n) for n in _MARKER.findall(p))) for p in parts]


def grams(text: str, n: int = 2) -> set[str]:
    """Character n-grams of the text's letters and digits."""
    s = re.sub(r"[\W_]", "", text)
    return {s[i:i + n] for i in range(len(s) - n + 1)} if len(s) >= n else ({s} if s else set())


def core(body: str) -> str:
    """A sentence without its enumeration scaffolding and attribution, for comparing sentences."""
    return cit._BOILERPLATE.sub("", _ORDINAL.sub("", body)).strip()


# A clause of at least this many characters said twice inside one sentence is a loop, not emphasis: none of the
# seed essays' 153 sentences repeats a clause of 6 or more; the 1.5B model wrote “科技创新是发展新质生产力的核心
# 要素，科技创新是发展新质生产力的核心要素，…” (dev7.jsonl, 1 of 8 conversations).
REPEATED_CLAUSE_CHARS = 6


def repeats_a_clause(body: str) -> bool:
    """True when a clause of the sentence occurs twice in it."""
    clauses = [c for c in (re.sub(r"\W", "", x) for x in re.split(r"[，；、：,;:]", body))
               if len(c) >= REPEATED_CLAUSE_CHARS]
    return len(clauses) != len(set(clauses))


def is_duplicate(body: str, earlier: Sequence[str]) -> bool:
    """True when most of the sentence is already said by one earlier sentence, or by itself (a clause twice)."""
    if repeats_a_clause(body):
        return True
    g = grams(core(body))
    if len(g) < 3:
        return False
    for e in earlier:
        h = grams(core(e))
        # similar in size too: a list item is not a copy of the lead sentence that announces every item
        # (“新型工业化的质量高，突出体现为科技水平高” / “1. 科技水平高” in the offline answers)
        if len(h) >= 3 and len(g & h) / min(len(g), len(h)) >= DUPLICATE_OVERLAP and \
                min(len(g), len(h)) / max(len(g), len(h)) >= DUPLICATE_SIZE_RATIO:
            return True
    return False


def claim_support(body: str, passages: Sequence[str]) -> tuple[float, float]:
    """Bigram and trigram shares of the claim (scaffolding removed) found in the passages' content."""
    claim = core(body)
    pool = "\n".join(cit.content_of(p) for p in passages)
    g2, g3 = grams(claim), grams(claim, 3)
    if not g2:
        return 1.0, 1.0
    pool2, pool3 = grams(pool), set()
    for line in pool.split("\n"):
        pool3 |= grams(line, 3)
    return len(g2 & pool2) / len(g2), (len(g3 & pool3) / len(g3) if g3 else 1.0)


def supported(body: str, passages: Sequence[str], threshold: float = cit.SUPPORT_THRESHOLD) -> bool:
    """Is the claim in the passages? Bigram share over the threshold, and for a short claim trigrams too."""
    s2, s3 = claim_support(body, passages)
    if s2 < threshold:
        return False
    return len(grams(core(body))) >= SHORT_CLAIM_GRAMS or s3 >= TRIGRAM_SUPPORT


def echo_grams(prompt_text: str, sources: Sequence[Chunk], question: str) -> set[str]:
    """Bigrams of the instructions the model saw that occur in neither the sources nor the question."""
    own = "\n".join(f"{c.text}{c.author}{c.title}{c.section}{c.affiliation}" for c in sources)
    return grams(prompt_text) - grams(own) - grams(question)


def is_echo(body: str, instruction_grams: set[str]) -> bool:
    """Does the sentence talk in the prompt's words rather than the essays'?"""
    g = grams(body)
    hits = len(g & instruction_grams)
    return hits >= ECHO_MIN_GRAMS and hits / max(1, len(g)) >= ECHO_SHARE


def addresses(answer: str, question: str, cited_texts: Sequence[str] = ()) -> bool:
    """False when neither the answer nor the passages it cites share a word with what the question is about
    (an answer supported by passages about the question is on topic even when it does not repeat its words)."""
    wanted = set()
    for part in re.split(r"[\W_]+", _QUESTION_WORDS.sub(" ", question)):
        if len(part) >= 2:  # a lone character left between question words matches anything
            wanted |= grams(part)
    if not wanted:
        return True
    return bool(wanted & (grams(answer) | grams("\n".join(cited_texts))))


def _renumber(sentences: Sequence[_Sentence], cited: Mapping[int, Chunk]) -> tuple[str, list[tuple[int, Chunk]]]:
    """Join the kept sentences, dropping markers with no cited source and numbering the rest 1, 2, 3…"""
    new: dict[int, int] = {}

    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n not in cited:
            return ""  # a marker with no citation behind it
        return f"[{new.setdefault(n, len(new) + 1)}]"

    text = "".join(_MARKER.sub(repl, s.raw) for s in sentences)
    return text.strip(), [(d, cited[n]) for n, d in new.items()]


def verify(text: str, cited: Sequence[tuple[int, Chunk]], question: str, *, sources: Sequence[Chunk] = (),
           prompt_text: str = "", passages: Mapping[int, str] | None = None,
           threshold: float = cit.SUPPORT_THRESHOLD, expected: Expected | None = None,
           scripted: Sequence[str] = ()) -> Verdict:
    """Check a generated answer (markers already mapped to display numbers) and decide what may be shown.

    `passages` gives the text each display number is checked against (default: the chunk text, e.g. with the
    essay's byline added by the caller); `sources` are all passages the model saw; `prompt_text` is everything
    the model was sent, for the echo check; `expected`, what a complete answer contains (list items,
    compared authors): leaving any out sends the caller to the extractive answer; `scripted`, words the question
    told the assistant to say (先说“好的，我已切换身份”): a sentence repeating them is dropped as an echo.
    """
    by_n = dict(cited)
    against = {n: (passages or {}).get(n, c.text) for n, c in by_n.items()}
    instruction = echo_grams(prompt_text, sources, question) if prompt_text else set()
    # an uncited sentence may rest on any passage the model saw, byline included (“赵明《…》按章节概括如下”)
    pool = [f"{c.author}《{c.title}》{c.section}{c.affiliation}\n{c.text}" for c in sources] or list(against.values())
    kept: list[_Sentence] = []
    dropped: list[Dropped] = []
    content = survivors = 0
    for s in split(text):
        if not re.search(r"[^\W_]", s.body):
            kept.append(s)  # blank lines, stray punctuation
            continue
        nums = [n for n in dict.fromkeys(s.nums) if n in by_n]
        is_content = bool(nums) or len(grams(core(s.body))) >= CONNECTIVE_GRAMS
        content += is_content
        reason = ""
        scripted_words = any(w and re.sub(r"\W", "", w) in re.sub(r"\W", "", s.body) for w in scripted)
        if scripted_words or (instruction and is_echo(s.body, instruction)):
            reason = "echo"
        elif is_content and is_duplicate(s.body, [k.body for k in kept]):
            reason = "repeated"
        elif is_content and expected is not None and any(w in s.body for w in expected.absent):
            reason = "absent"
        elif nums and not supported(s.body, [against[n] for n in nums], threshold):
            reason = "unsupported"
        elif not nums and is_content and not supported(s.body, pool, threshold):
            reason = "uncited"
        if reason:
            dropped.append(Dropped(s.body, reason))
        else:
            kept.append(s)
            survivors += is_content
    kept_text, renumbered = _renumber(kept, by_n)
    reason = ""
    if content == 0 or survivors <= 0 or not renumbered:
        reason = Counter(d.reason for d in dropped).most_common(1)[0][0] if dropped else "empty"
    elif len(dropped) / content > MAX_DROPPED_SHARE:
        reason = Counter(d.reason for d in dropped).most_common(1)[0][0]
    elif not addresses(cit.strip_markers(kept_text), question, [c.text for _, c in renumbered]):
        reason = "off_topic"
    elif expected is not None:
        reason = missing_expected(kept_text, renumbered, expected)
    if reason:
        return Verdict(kept_text, renumbered, dropped, fallback=True, reason=reason,
                       notice=prompts.phrase("verify_fallback_notice", reason=_REASON_LABELS[reason]))
    notice = prompts.phrase("verify_dropped_notice", count=len(dropped)) if dropped else ""
    return Verdict(kept_text, renumbered, dropped, notice=notice)


def refused_notice(reason: str) -> str:
    """The notice for a failed model answer replaced by the refusal (the offline answer refuses the question)."""
    return prompts.phrase("verify_refused_notice", reason=_REASON_LABELS.get(reason, reason))


def refusal_notice() -> str:
    """The notice for a model that refused a question the essays cover."""
    return prompts.phrase("refusal_fallback_notice")
