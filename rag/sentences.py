"""The corpus as sentences: each essay split at Chinese full stops, bigram IDF weights, and the lists it holds.

A list (ListGroup) is an enumeration the essay itself announces: 一是……二是…… runs, runs of paragraphs led by a
short heading (科技水平高。生产效率优。……), and sibling sections with lead sentences. The composer answers list
questions with these units, and a follow-up's ordinal refers to their items.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rag import citations as cit
from rag.types import Essay

CN_NUM = "一二三四五六七八九十"
_ORDINAL = re.compile(rf"^(?:([{CN_NUM}])是|第([{CN_NUM}])[，、是]|(首先|其次|再次|最后)[，、])")
_SPLIT = re.compile(r"[^。！？!?]*[。！？!?]+[”’」』）)]*|[^。！？!?]+$")
# Words that carry no topic: question scaffolding, attribution, generic essay vocabulary.
_STOP_PHRASES = (
    "请问", "请", "根据", "文章中", "文章", "这篇", "那篇", "本文", "作者", "认为", "看来", "觉得", "观点", "看法",
    "怎么看", "怎么", "怎样", "如何", "什么", "哪些", "哪个", "哪几", "为什么", "为何", "是否", "有没有", "能否",
    "可以", "吗", "呢", "吧", "啊", "的", "了", "是", "在", "和", "与", "及", "对", "有", "要", "应该", "应当",
    "提到", "提出", "指出", "强调", "说", "谈", "讲", "主要", "具体", "一下", "介绍", "内容", "方面", "几个",
    "多少", "谁", "他", "她", "其", "中", "里", "还", "逐条", "列出", "哪几", "包括", "论述", "是怎么", "定义", "含义", "意思",
)


@dataclass(frozen=True)
class Sentence:
    """One sentence of an essay with its position."""

    essay_id: str
    section_index: int
    paragraph: int
    start: int
    end: int
    text: str
    ordinal: int  # 1 for 一是, 2 for 二是 …, 0 when not a list item


def question_core(question: str) -> str:
    """The question without scaffolding words, for scoring."""
    q = re.sub(r"《[^》]*》", " ", question)
    q = re.sub(r"[\s\W_]+", " ", q)
    for w in sorted(_STOP_PHRASES, key=len, reverse=True):
        q = q.replace(w, " ")
    return q


def bigrams(text: str) -> list[str]:
    """Character bigrams of each run of word characters."""
    out: list[str] = []
    for run in re.findall(r"[^\W_]+", text.replace("的", "")):  # 的 comes and goes between phrasings
        if len(run) == 1:
            out.append(run)
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def _ordinal(text: str) -> int:
    m = _ORDINAL.match(text)
    if not m:
        return 0
    if m.group(1) or m.group(2):
        return CN_NUM.index(m.group(1) or m.group(2)) + 1
    return {"首先": 1, "其次": 2, "再次": 3, "最后": 9}[m.group(3)]


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
                                              _ordinal(s.strip())))
                        df.update(set(bigrams(s)))
                    offset += len(para) + 1
                    para_no += 1
            self.sentences[e.id] = sents
        n = sum(len(v) for v in self.sentences.values()) or 1
        self.idf = {g: math.log(1 + n / c) for g, c in df.items()}
        self._max_idf = math.log(1 + n)
        self.groups: list[ListGroup] = []
        for e in essays:
            self.groups.extend(_find_groups(e, self.sentences[e.id]))

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


@dataclass(frozen=True)
class ListGroup:
    """An enumeration in an essay: the sentence that introduces it and its items in order."""

    essay_id: str
    intro: Sentence | None
    items: tuple[tuple[Sentence, ...], ...]  # each item: its lead sentence, plus a short explanation if terse


def _find_groups(essay: Essay, sents: list[Sentence]) -> list[ListGroup]:
    """Ordinal runs (一是……二是……), runs of paragraphs led by a short heading, and runs of titled sections."""
    groups: list[ListGroup] = []
    i = 0
    while i < len(sents):
        if sents[i].ordinal == 1:
            items = [sents[i]]
            j = i + 1
            while j < len(sents) and j - i < 60 and sents[j].ordinal != 1:
                if sents[j].ordinal == items[-1].ordinal + 1:
                    items.append(sents[j])
                j += 1
            if len(items) >= 2:
                intro = sents[i - 1] if i > 0 and not sents[i - 1].ordinal else None
                groups.append(ListGroup(essay.id, intro, tuple((s,) for s in items)))
            i = j if len(items) >= 2 else i + 1
            continue
        i += 1
    by_para: dict[int, list[Sentence]] = {}
    for s in sents:
        by_para.setdefault(s.paragraph, []).append(s)
    # 一方面……另一方面……: two items announced by the sentence before them (dev.jsonl: 傅晋华's 战略意义 of 新质生产力
    # is such a pair, and a follow-up leaving out one side needs the other as an item)
    for para in by_para.values():
        for k, s in enumerate(para[:-1]):
            if s.text.startswith("一方面") and para[k + 1].text.startswith("另一方面"):
                groups.append(ListGroup(essay.id, para[k - 1] if k > 0 else None, ((s,), (para[k + 1],))))
    paras = sorted(by_para)
    run: list[int] = []
    for p in [*paras, -1]:
        lead = by_para[p][0] if p >= 0 else None
        if lead is not None and _heading_len(lead.text) <= 10 and not lead.ordinal and len(by_para[p]) > 1 and \
                (not run or (p == run[-1] + 1 and lead.section_index == by_para[run[-1]][0].section_index)):
            run.append(p)
            continue
        if len(run) >= 3:
            prev = by_para.get(run[0] - 1)
            groups.append(ListGroup(essay.id, prev[-1] if prev else None, tuple(tuple(by_para[q][:2]) for q in run)))
        run = [p] if lead is not None and _heading_len(lead.text) <= 10 and len(by_para[p]) > 1 else []
    firsts = []
    for si in range(1, len(essay.sections)):
        in_sec = [s for s in sents if s.section_index == si]
        if in_sec and _heading_len(in_sec[0].text) <= 30 and not in_sec[0].ordinal:
            firsts.append(in_sec[0])
    if len(firsts) >= 3 and len(firsts) == len(essay.sections) - 1:
        intro_candidates = [s for s in sents if s.section_index == 0]
        groups.append(ListGroup(essay.id, intro_candidates[-1] if intro_candidates else None,
                                tuple((s,) for s in firsts)))
    return groups


def _heading_len(text: str) -> int:
    return len(re.sub(r"[^\w]", "", text))
