"""The offline backend: a readable Chinese answer composed from the essays' own sentences, each one cited.

Deterministic and model-free. Sentences come from the retrieved passages; a sentence is scored by how much of
the question's (IDF-weighted) character bigrams it contains plus the rank of its passage. Lists stay lists:
when the best evidence is one item of an enumeration (一是……二是……), the sibling items are quoted in order.
Output uses `[n]` markers numbered like the retrieved hits, so the same citation code serves every backend.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.types import Chunk, Essay, Hit

_CN_NUM = "一二三四五六七八九十"
_ORDINAL = re.compile(rf"^(?:([{_CN_NUM}])是|第([{_CN_NUM}])[，、是]|(首先|其次|再次|最后)[，、])")
_SPLIT = re.compile(r"[^。！？!?]*[。！？!?]+[”’」』）)]*|[^。！？!?]+$")
# Words that carry no topic: question scaffolding, attribution, generic essay vocabulary.
_STOP_PHRASES = (
    "请问", "请", "根据", "文章中", "文章", "这篇", "那篇", "本文", "作者", "认为", "看来", "觉得", "观点", "看法",
    "怎么看", "怎么", "怎样", "如何", "什么", "哪些", "哪个", "哪几", "为什么", "为何", "是否", "有没有", "能否",
    "可以", "吗", "呢", "吧", "啊", "的", "了", "是", "在", "和", "与", "及", "对", "有", "要", "应该", "应当",
    "提到", "提出", "指出", "强调", "说", "谈", "讲", "主要", "具体", "一下", "介绍", "内容", "方面", "几个",
    "多少", "谁", "他", "她", "其", "中", "里", "还",
)
ENUM_QUESTION = re.compile(r"哪些|哪几|几个|几方面|几点|举措|措施|路径|途径|怎么做|如何做|做法|有什么|特征|表现|要求|方向")


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
    q = re.sub(r"[\s\W_]+", " ", question)
    for w in sorted(_STOP_PHRASES, key=len, reverse=True):
        q = q.replace(w, " ")
    return q


def bigrams(text: str) -> list[str]:
    """Character bigrams of each run of word characters."""
    out: list[str] = []
    for run in re.findall(r"[^\W_]+", text):
        if len(run) == 1:
            out.append(run)
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def _ordinal(text: str) -> int:
    m = _ORDINAL.match(text)
    if not m:
        return 0
    if m.group(1) or m.group(2):
        return _CN_NUM.index(m.group(1) or m.group(2)) + 1
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
                        sents.append(Sentence(e.id, si, para_no, offset + off, offset + off + len(s), s.strip(),
                                              _ordinal(s.strip())))
                        df.update(set(bigrams(s)))
                    offset += len(para) + 1
                    para_no += 1
            self.sentences[e.id] = sents
        n = sum(len(v) for v in self.sentences.values()) or 1
        self.idf = {g: math.log(1 + n / c) for g, c in df.items()}
        self._max_idf = math.log(1 + n)

    def weight(self, gram: str) -> float:
        """IDF of a bigram (unseen bigrams get the maximum)."""
        return self.idf.get(gram, self._max_idf)

    def in_span(self, essay_id: str, start: int, end: int) -> list[Sentence]:
        """Sentences mostly inside [start, end) of an essay's text."""
        out = []
        for s in self.sentences.get(essay_id, []):
            overlap = min(end, s.end) - max(start, s.start)
            if overlap > 0 and overlap >= 0.6 * (s.end - s.start):
                out.append(s)
        return out

    def coverage(self, core_grams: Sequence[str], text: str) -> float:
        """IDF-weighted share of the question's bigrams found in `text`."""
        if not core_grams:
            return 0.0
        have = set(bigrams(text))
        total = sum(self.weight(g) for g in core_grams)
        return sum(self.weight(g) for g in core_grams if g in have) / total


ChunkLookup = Callable[[str, int, int], Chunk | None]


@dataclass
class Composed:
    """An extractive answer with `[n]` markers and the hits it cites (hits may grow with list siblings)."""

    text: str
    hits: list[Hit]
    best: float


def _span(chunk: Chunk, index: SentenceIndex) -> tuple[int, int]:
    essay = index.essays.get(chunk.essay_id)
    if essay is None:
        return chunk.char_start, chunk.char_end
    if essay.text[chunk.char_start:chunk.char_end] == chunk.text:
        return chunk.char_start, chunk.char_end
    at = essay.text.find(chunk.text[:40])
    return (at, at + len(chunk.text)) if at >= 0 else (chunk.char_start, chunk.char_end)


def _cite(text: str, n: int) -> str:
    """Put the marker before the sentence's closing punctuation."""
    m = re.search(r"[。！？!?；;]*[”’」』）)]*$", text)
    cut = m.start() if m else len(text)
    tail = text[cut:] or "。"
    return f"{text[:cut]}[{n}]{tail}"


def _hit_for(sentence: Sentence, hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None) -> int:
    """1-based number of the hit whose chunk holds the sentence, adding the chunk to hits if needed (0 = none)."""
    for i, h in enumerate(hits, 1):
        if h.chunk.essay_id != sentence.essay_id:
            continue
        a, b = _span(h.chunk, index)
        overlap = min(b, sentence.end) - max(a, sentence.start)
        if overlap >= 0.6 * (sentence.end - sentence.start):
            return i
    if lookup is None:
        return 0
    chunk = lookup(sentence.essay_id, sentence.start, sentence.end)
    if chunk is None:
        return 0
    hits.append(Hit(chunk=chunk, score=0.0, rank=len(hits)))
    return len(hits)


def _lead(s: Sentence) -> str:
    """A list item's heading: the item sentence itself, trimmed after its first clause when very long."""
    return s.text


def _is_fragment_start(text: str, start: int) -> bool:
    return start > 0 and text[start - 1] not in "。！？!?\n”"


def score_sentences(question: str, hits: Sequence[Hit], index: SentenceIndex) -> list[tuple[float, Sentence, int]]:
    """(score, sentence, hit number) for every whole sentence inside the retrieved passages, best first."""
    core = bigrams(question_core(question))
    scored: list[tuple[float, Sentence, int]] = []
    seen: set[tuple[str, int]] = set()
    for i, h in enumerate(hits, 1):
        a, b = _span(h.chunk, index)
        prior = 1.0 / (1.0 + 0.35 * (i - 1))
        for s in index.in_span(h.chunk.essay_id, a, b):
            key = (s.essay_id, s.start)
            if key in seen:
                continue
            seen.add(key)
            cov = index.coverage(core, s.text)
            short = 0.85 if len(s.text) < 12 else 1.0  # bare headings say little on their own
            scored.append(((0.75 * cov + 0.25 * prior) * short, s, i))
    scored.sort(key=lambda t: (-t[0], t[2], t[1].start))
    return scored


def _similar(a: str, b: str) -> bool:
    ga, gb = set(bigrams(a)), set(bigrams(b))
    return bool(ga and gb) and len(ga & gb) / min(len(ga), len(gb)) > 0.6


def list_siblings(s: Sentence, index: SentenceIndex) -> list[Sentence]:
    """The items of the enumeration `s` belongs to (一是/二是… in the same section), in order."""
    if not s.ordinal:
        return []
    sents = index.sentences[s.essay_id]
    pos = sents.index(s)
    items = [s]
    j = pos - 1
    want = s.ordinal - 1
    while j >= 0 and want >= 1 and pos - j < 40:
        if sents[j].ordinal == want:
            items.insert(0, sents[j])
            want -= 1
        j -= 1
    want = s.ordinal + 1
    j = pos + 1
    while j < len(sents) and j - pos < 40:
        if sents[j].ordinal == want:
            items.append(sents[j])
            want += 1
        elif sents[j].ordinal == 1:
            break
        j += 1
    return items if len(items) >= 2 else []


def compose_answer(question: str, hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None = None,
                   max_chars: int = 420) -> Composed:
    """Quote the most relevant sentences of the hits as a short cited answer grouped by essay."""
    hits = list(hits)
    scored = score_sentences(question, hits, index)
    if not scored:
        return Composed("", hits, 0.0)
    best_score, best, _ = scored[0]
    chosen: list[tuple[Sentence, int]] = []
    siblings = list_siblings(best, index) if (best.ordinal or ENUM_QUESTION.search(question)) else []
    if siblings:
        for s in siblings:
            n = _hit_for(s, hits, index, lookup)
            if n:
                chosen.append((s, n))
    used = sum(len(s.text) for s, _ in chosen)
    for score, s, n in scored:
        if len(chosen) >= 4 or used >= max_chars:
            break
        if score < 0.55 * best_score:
            break
        if any(c.essay_id == s.essay_id and c.start == s.start for c, _ in chosen):
            continue
        if any(_similar(c.text, s.text) for c, _ in chosen):
            continue
        if chosen and s.essay_id != best.essay_id and score < 0.8 * best_score:
            continue
        if siblings and len(chosen) >= len(siblings) + 1:
            break
        chosen.append((s, n))
        used += len(s.text)
    return Composed(_format(chosen, index), hits, best_score)


def _format(chosen: list[tuple[Sentence, int]], index: SentenceIndex) -> str:
    """Group the chosen sentences by essay (in order of first choice) and by position inside each essay."""
    order: list[str] = []
    for s, _ in chosen:
        if s.essay_id not in order:
            order.append(s.essay_id)
    parts = []
    for eid in order:
        essay = index.essays[eid]
        group = sorted(((s, n) for s, n in chosen if s.essay_id == eid), key=lambda p: p[0].start)
        items = [_cite(s.text, n) for s, n in group]
        if all(s.ordinal for s, _ in group) and len(group) >= 2:
            body = "\n".join(items)
            parts.append(f"{essay.author}在《{essay.title}》中提出：\n{body}")
        else:
            parts.append(f"{essay.author}在《{essay.title}》中指出：{''.join(items)}")
    return "\n\n".join(parts)


def summarize_essay(essay: Essay, hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None = None,
                    per_section: int = 2) -> Composed:
    """A section-by-section summary of a whole essay: each section's thesis sentence(s), cited."""
    hits = list(hits)
    sents = index.sentences[essay.id]
    lines = [f"{essay.author}《{essay.title}》按章节概括如下："]
    for si, section in enumerate(essay.sections):
        in_sec = [s for s in sents if s.section_index == si]
        if not in_sec:
            continue
        picked = _central(in_sec, index, per_section)
        cited = []
        for s in picked:
            n = _hit_for(s, hits, index, lookup)
            cited.append(_cite(s.text, n) if n else s.text)
        title = "引言" if section.title in ("", "引言") else section.title
        lines.append(f"{len(lines)}. {title}：{''.join(cited)}")
    return Composed("\n".join(lines), hits, 1.0)


def _central(sents: list[Sentence], index: SentenceIndex, k: int) -> list[Sentence]:
    """The section's lead sentence plus its most central one (highest bigram overlap with the section)."""
    lead = next((s for s in sents if len(s.text) >= 12), sents[0])
    picked = [lead]
    items = [s for s in sents if s.ordinal]
    if len(items) >= 2:
        # an enumeration: its item sentences are the section's skeleton
        return [lead, *[s for s in items if s is not lead]][: max(k, len(items) + 1)]
    section_grams = Counter(g for s in sents for g in set(bigrams(s.text)))
    best = None
    best_score = -1.0
    for s in sents:
        if s is lead or len(s.text) < 12:
            continue
        gs = set(bigrams(s.text))
        score = sum(section_grams[g] * index.weight(g) for g in gs) / (len(gs) ** 0.8 or 1)
        if score > best_score:
            best, best_score = s, score
    if best is not None and k > 1:
        picked.append(best)
    return sorted(picked, key=lambda s: s.start)


def summarize_topic(question: str, per_essay: dict[str, list[Hit]], index: SentenceIndex,
                    min_coverage: float = 0.34) -> Composed:
    """Each author's view of a topic, grouped by author; authors whose passages miss the topic are named."""
    hits: list[Hit] = []
    lines = ["几位作者的相关论述如下："]
    silent = []
    best_all = 0.0
    core = bigrams(question_core(_strip_topic_scaffold(question)))
    for eid, essay_hits in per_essay.items():
        essay = index.essays[eid]
        base = len(hits)
        hits.extend(essay_hits)
        scored = score_sentences(_strip_topic_scaffold(question), essay_hits, index)
        top = [t for t in scored if index.coverage(core, t[1].text) >= min_coverage][:2]
        if not top:
            silent.append(essay.author)
            continue
        best_all = max(best_all, top[0][0])
        top.sort(key=lambda t: t[1].start)
        body = "".join(_cite(s.text, base + n) for _, s, n in top)
        lines.append(f"- {essay.author}《{essay.title}》：{body}")
    if silent:
        lines.append(f"- {'、'.join(silent)}的文章未专门论及这一话题。")
    return Composed("\n".join(lines), hits, best_all)


def _strip_topic_scaffold(question: str) -> str:
    return re.sub(r"(几位|各位|不同|这些|四位|各篇|几篇)(作者|文章)(们)?|分别|各自|都|对于|对", " ", question)
