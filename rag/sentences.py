"""The corpus as sentences: each essay split at Chinese full stops, bigram IDF weights, and the lists it holds.

Each sentence carries the item number it opens with, and the index holds each essay's lists as sentences; both are
found by rag.lists, which owns the detection of enumerations. The composer answers list questions with these
units, and a follow-up's ordinal refers to their items.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from rag import citations as cit
from rag.lists import ListGroup, opening_ordinal, sentence_groups
from rag.types import Essay, Sentence

_SPLIT = re.compile(r"[^。！？!?]*[。！？!?]+[”’」』）)]*|[^。！？!?]+$")
# Words that carry no topic: question scaffolding, attribution, generic essay vocabulary.
_STOP_PHRASES = (
    "请问", "请", "根据", "文章中", "文章", "这篇", "那篇", "本文", "作者", "认为", "看来", "觉得", "观点", "看法",
    "怎么看", "怎么", "怎样", "如何", "什么", "哪些", "哪个", "哪几", "为什么", "为何", "是否", "有没有", "能否",
    "可以", "吗", "呢", "吧", "啊", "的", "了", "是", "在", "和", "与", "及", "对", "有", "要", "应该", "应当",
    "提到", "提出", "指出", "强调", "说", "谈", "讲", "主要", "具体", "一下", "介绍", "内容", "方面", "几个",
    "多少", "谁", "他", "她", "其", "中", "里", "还", "逐条", "列出", "哪几", "包括", "论述", "是怎么", "定义", "含义", "意思",
)


_STOP_WORDS = tuple(sorted((w for w in _STOP_PHRASES if len(w) > 1), key=len, reverse=True))
_STOP_CHARS = frozenset(w for w in _STOP_PHRASES if len(w) == 1)
_CONTENT_FLAGS = ("n", "v", "a", "s", "j", "b")  # the segmenter's content words (not c, d, p, r, u: 只有, 其中, 对于)


@lru_cache(maxsize=4096)  # the premise checks ask it of the same claims and clauses many times per question
def question_core(question: str) -> str:
    """The question without scaffolding words, for scoring.

    A one-character scaffolding word (要, 在, 中, 对, 有, 与) is kept inside a content word the segmenter reads
    (a noun, verb, adjective, place or name: 要素, 存在, 中西部, 参与) and removed elsewhere (只有 → 只, 其中): removed
    from inside words, it cut the essays' own terms, and a claim about 要素投入 held 0.44 of a sentence on 要素驱动
    (blind3.jsonl: 1 of 7 false premises)."""
    from rag.segment import cut

    q = re.sub(r"《[^》]*》", " ", question)
    q = re.sub(r"[\s\W_]+", " ", q)
    for w in _STOP_WORDS:
        q = q.replace(w, " ")
    if not any(c in _STOP_CHARS for c in q):
        return q
    out = []
    for word, flag in cut(q):
        content = len(word) > 1 and flag.startswith(_CONTENT_FLAGS) and not set(word) <= _STOP_CHARS
        out.append(word if content else "".join(" " if c in _STOP_CHARS else c for c in word))
    return "".join(out)


def bigrams(text: str) -> list[str]:
    """Character bigrams of each run of word characters."""
    out: list[str] = []
    for run in re.findall(r"[^\W_]+", text.replace("的", "")):  # 的 comes and goes between phrasings
        if len(run) == 1:
            out.append(run)
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def split_sentences(paragraph: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs of a paragraph, split at Chinese full stops."""
    return [(m.start(), m.group(0)) for m in _SPLIT.finditer(paragraph) if m.group(0).strip()]


class SentenceIndex:
    """All sentences of the corpus, with IDF weights of character bigrams, built once per corpus."""

    def __init__(self, essays: Sequence[Essay]) -> None:
        self.essays = {e.id: e for e in essays}
        self.sentences: dict[str, list[Sentence]] = {}
        df: Counter[str] = Counter()
        for e in essays:
            offset, para_no, sents = 0, 0, []
            for si, section in enumerate(e.sections):
                for para in section.paragraphs:
                    for off, s in split_sentences(para):
                        if cit.NOT_CONTENT.search(s):  # orders to an assistant or encoded payloads: never quoted
                            continue
                        sents.append(Sentence(e.id, si, para_no, offset + off, offset + off + len(s), s.strip(),
                                              opening_ordinal(s.strip())))
                        df.update(set(bigrams(s)))
                    offset += len(para) + 1
                    para_no += 1
            self.sentences[e.id] = sents
        n = sum(len(v) for v in self.sentences.values()) or 1
        self.idf = {g: math.log(1 + n / c) for g, c in df.items()}
        self._max_idf = math.log(1 + n)
        self.groups: list[ListGroup] = []
        for e in essays:
            self.groups.extend(sentence_groups(e, self.sentences[e.id]))

    def weight(self, gram: str) -> float:
        """IDF of a bigram (unseen bigrams get the maximum)."""
        return self.idf.get(gram, self._max_idf)

    def in_span(self, essay_id: str, start: int, end: int) -> list[Sentence]:
        """Sentences overlapping [start, end) of an essay's text."""
        return [s for s in self.sentences.get(essay_id, []) if min(end, s.end) - max(start, s.start) > 0]

    def coverage(self, core_grams: Sequence[str], text: str) -> float:
        """IDF-weighted share of the question's bigrams found in `text`."""
        if not core_grams:
            return 0.0
        have = set(bigrams(text))
        total = sum(self.weight(g) for g in core_grams)
        return sum(self.weight(g) for g in core_grams if g in have) / total
