"""The offline backend: a readable Chinese answer composed from the essays' own sentences, each one cited.

Deterministic and model-free. Sentences come from the retrieved passages; a sentence is scored by how much of
the question's (IDF-weighted) character bigrams it contains plus the rank of its passage. Lists stay lists:
when the best evidence is one item of an enumeration (一是……二是……), the sibling items are quoted in order.
Output uses `[n]` markers numbered like the retrieved hits, so the same citation code serves every backend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.crosslingual import Meaning
from rag.sentences import (
    CN_NUM,
    ListGroup,
    Sentence,
    SentenceIndex,
    bigrams,
    question_core,
    split_sentences,
)
from rag.types import Chunk, Hit

__all__ = ["Composed", "ListGroup", "Sentence", "SentenceIndex", "bigrams", "compose_answer", "question_core",
           "quote_sentences", "split_sentences"]



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


def _cite(text: str, ns: Sequence[int]) -> str:
    """Put the markers before the sentence's closing punctuation, or after a closing quotation mark (…发展。”[1]),
    so that a quotation is never split by its own citation."""
    marks = "".join(f"[{n}]" for n in ns)
    m = re.search(r"[。！？!?；;]*[”’」』）)]*$", text)
    cut = m.start() if m else len(text)
    tail = text[cut:] or "。"
    if re.search(r"[”’」』]", tail):
        return f"{text}{marks}"
    return f"{text[:cut]}{marks}{tail}"


def _hits_for(sentence: Sentence, hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None) -> list[int]:
    """1-based numbers of the hits whose chunks hold the sentence; chunks not yet retrieved are added to hits."""
    found: list[int] = []
    covered = 0
    for i, h in enumerate(hits, 1):
        if h.chunk.essay_id != sentence.essay_id:
            continue
        a, b = _span(h.chunk, index)
        overlap = min(b, sentence.end) - max(a, sentence.start)
        if overlap > 0 and not any(hits[j - 1].chunk.id == h.chunk.id for j in found):
            found.append(i)
            covered += overlap
    length = sentence.end - sentence.start
    if covered >= 0.9 * length or lookup is None:
        return found
    pos = sentence.start
    while pos < sentence.end:
        chunk = lookup(sentence.essay_id, pos, pos + 1)
        if chunk is None:
            break
        if not any(hits[j - 1].chunk.id == chunk.id for j in found):
            idx = next((i for i, h in enumerate(hits, 1) if h.chunk.id == chunk.id), 0)
            if not idx:
                hits.append(Hit(chunk=chunk, score=0.0, rank=len(hits) + 1))
                idx = len(hits)
            found.append(idx)
        a, b = _span(chunk, index)
        pos = max(b, pos + 1)
    return sorted(found, key=lambda j: _span(hits[j - 1].chunk, index)[0])


def score_sentences(question: str, hits: Sequence[Hit], index: SentenceIndex,
                    long_penalty: bool = True, meaning: Meaning | None = None) -> list[tuple[float, Sentence, int]]:
    """(score, sentence, hit number) for every sentence of the retrieved passages, best first (a list question
    keeps long enumerating sentences at full weight: `long_penalty=False`). With `meaning` (an English or mixed
    question, rag.crosslingual), a sentence counts as covering the question as much as it answers it by meaning."""
    core = bigrams(question_core(question))
    quoted = {re.sub(r"\W", "", q) for q in re.findall(r"“([^”]{2,40})”", question)}
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
            cov = _covers(core, s, index, meaning)
            if quoted and re.sub(r"\W", "", re.sub(r"^[一二三四五六七八九十]是", "", s.text)) in quoted:
                scored.append((1.5, s, i))  # the heading the question quotes (a follow-up on a list item)
                continue
            short = 0.85 if len(s.text) < 12 else 1.0  # bare headings say little on their own
            length = _length_factor(s.text) if long_penalty else 1.0
            scored.append(((0.75 * cov + 0.25 * prior) * short * length, s, i))
    scored.sort(key=lambda t: (-t[0], t[2], t[1].start))
    return scored


def _covers(core: Sequence[str], s: Sentence, index: SentenceIndex, meaning: Meaning | None) -> float:
    """How much of the question a sentence covers: its share of the question's bigrams, or its meaning score
    when that is higher (the English words of a question have no bigram in the Chinese text)."""
    cov = index.coverage(core, s.text)
    return max(cov, meaning.get((s.essay_id, s.start), 0.0)) if meaning else cov


# A long sentence that lists many topics (an essay's thesis sentence) matches a little of every question; past
# LONG_SENTENCE characters its score shrinks with the fourth root of its length (a 150-character sentence by 20%),
# so a shorter sentence about the asked topic wins a near-tie.
LONG_SENTENCE = 60


def _length_factor(text: str) -> float:
    return 1.0 if len(text) <= LONG_SENTENCE else (LONG_SENTENCE / len(text)) ** 0.25


def _similar(a: str, b: str) -> bool:
    ga, gb = set(bigrams(a)), set(bigrams(b))
    return bool(ga and gb) and len(ga & gb) / min(len(ga), len(gb)) > 0.6


_COUNT = re.compile(r"(?:哪|这|那)?([两二三四五六七八九])(?:项|个|点|条|种|方面|大)")


def best_group(question: str, hits: Sequence[Hit], index: SentenceIndex) -> tuple[float, ListGroup | None]:
    """The enumeration in the retrieved essays that best answers an enumerative question."""
    core = bigrams(question_core(question))
    first_rank: dict[str, int] = {}
    for i, h in enumerate(hits[:4]):
        first_rank.setdefault(h.chunk.essay_id, i)
    m = _COUNT.search(question)
    want = "一两三四五六七八九".index(m.group(1).replace("二", "两")) + 1 if m else 0
    best: tuple[float, ListGroup | None] = (0.0, None)
    for g in index.groups:
        if g.essay_id not in first_rank:
            continue
        intro = index.coverage(core, g.intro.text) if g.intro is not None else 0.0
        context = index.coverage(core, "".join(s.text for s in _before(g, index, 3)))
        body = index.coverage(core, "".join(s.text for item in g.items for s in item))
        score = max(intro, 0.9 * context, 0.8 * body)
        score += 0.1 / (1 + first_rank[g.essay_id])
        if want and want == len(g.items):
            score += 0.15
        elif want:
            score -= 0.1
        if score > best[0]:
            best = (score, g)
    return best


def _before(g: ListGroup, index: SentenceIndex, n: int) -> list[Sentence]:
    """The introduction and up to n-1 sentences before it in the same section (the list's context)."""
    if g.intro is None:
        return []
    sents = index.sentences[g.essay_id]
    i = sents.index(g.intro)
    return [s for s in sents[max(0, i - n + 1):i + 1] if s.section_index == g.intro.section_index]


# Sentences that carry what a kind of question asks for (the planner's `ask`): a definition's 是指, a reason's
# 因为/有利于, a way's 要/通过/加快. A matching sentence gets ASK_BONUS on top of its topic coverage, enough to
# beat a sentence that only repeats the question's words (on dataset.jsonl and heldout.jsonl it moved 6 answers
# from a restating sentence to the answering one and lost none at 0.12; 0.2 began to pull in off-topic sentences).
_ASK_MARKERS = {
    "definition": re.compile(r"是指|指的是|就是|即|意味着|是[^，。；]{2,30}的(表现形式|过程|能力|基础|依托|载体|要素|核心|特征|标志)"),
    "reason": re.compile(r"因为|由于|从而|因此|所以|原因|在于|有利于|有助于|决定|关键|前提|支撑|保障|基础|必然要求|重要意义"),
    "way": re.compile(r"要|需|应|必须|通过|以[^，。；]{1,20}为|推动|加快|着力|坚持|强化|健全|完善|提升|加强|引导|鼓励|支持|"
                      r"统筹|促进|培育|构建|建设|实施"),
    "time": re.compile(r"\d{4}\s*年|年底|以来|阶段|时期"),
    "number": re.compile(r"\d|[一二三四五六七八九十百千万亿]+(个|项|倍|成)|百分之"),
}
ASK_BONUS = 0.12
# A sentence naming none of the question's nouns (人才 in 怎样留住和用好人才) is scaled by OFF_TOPIC: a shared
# verb (用好) must not outrank the sentences about the topic (dataset.jsonl: no answer lost at 0.4).
OFF_TOPIC = 0.4
TOPIC_PRESENT = 0.3  # ...when a sentence naming a topic noun covers this much of the question (paraphrases: < 0.25)
# A kept sentence must carry this share of the best sentence's topic coverage: below it, sentences only pad the
# answer with other topics (the padded answers of the tuning sets all had a second sentence under 0.5).
KEEP_SHARE = 0.55
# An item's own explanation: the sentences after its heading in the same paragraph, up to this many characters.
ITEM_CHARS = 320


def compose_answer(question: str, hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None = None,
                   max_chars: int = 420, ask: str = "fact", item: str = "", topic: Sequence[str] = (),
                   meaning: Meaning | None = None) -> Composed:
    """Quote the sentences of the hits that answer the question as a short cited answer grouped by essay.

    `ask` is what the question asks for (rag.planner.Ask); `item` the list item a follow-up refers to, whose
    paragraph is quoted as a whole (its heading says what, the rest says how); `topic` the question's nouns: a
    sentence that names none of them is about something else and only pads the answer; `meaning` the sentences'
    meaning scores for a question in English or mixed (rag.crosslingual)."""
    hits = list(hits)
    scored = score_sentences(question, hits, index, long_penalty=ask != "list", meaning=meaning)
    if not scored:
        return Composed("", hits, 0.0)
    core = bigrams(question_core(question))
    item = item or named_item(question, index, hits)
    if item:
        run = item_run(item, hits, index)
        if run and ask == "definition":  # what an item means: its heading and the sentence that explains it
            run = [run[0], *([x] if (x := explanation(run[0], index)) is not None else run[1:2])]
        if run:
            return Composed(_format(run, hits, index, lookup), hits, 1.5)
    marker = _ASK_MARKERS.get(ask)
    on_topic = max((index.coverage(core, s.text) for _sc, s, _n in scored if any(t in s.text for t in topic)),
                   default=0.0)
    # only a question whose topic the passages name outright is held to it (a paraphrase matches by meaning)
    topic = topic if on_topic >= TOPIC_PRESENT else ()
    if marker is not None or topic:
        def adjust(sc: float, s: Sentence) -> float:
            if marker is not None and sc > 0 and marker.search(s.text):
                sc += ASK_BONUS
            if topic and not any(t in s.text for t in topic):
                sc *= OFF_TOPIC
            return sc
        scored = sorted(((adjust(sc, s), s, n) for sc, s, n in scored), key=lambda t: (-t[0], t[2], t[1].start))
    best_score = scored[0][0]
    best_cov = max(_covers(core, s, index, meaning) for _, s, _ in scored[:5])
    enumerative = ask == "list"
    asks_one_item = scored[0][0] >= 1.5  # the question quotes one item's heading (a follow-up on a list)
    if enumerative and not asks_one_item:
        top = scored[0][1]
        # the best sentence announces a list (科技水平高、生产效率优……等特征) or is one of its items: the whole list
        for g in index.groups:
            if g.intro == top or (top.ordinal and any(top in it for it in g.items)):
                return Composed(format_group(g, hits, index, lookup), hits, best_score)
        top_is_list = len(re.findall(r"[、；]", top.text)) >= 2
        g_score, group = best_group(question, hits, index)
        if group is not None and not top_is_list and g_score >= 0.5 and g_score >= best_cov - 0.02:
            return Composed(format_group(group, hits, index, lookup), hits, max(best_score, g_score))
        clauses = _clauses_of(top)
        if len(clauses) >= MIN_CLAUSE_ITEMS:  # one sentence of parallel ；-clauses (统筹A；统筹B；统筹C): its items
            essay = index.essays[top.essay_id]
            lines = [f"{essay.author}在《{essay.title}》中提出："]
            lines += [f"{k}. {_cite(_close(c.text), _hits_for(c, hits, index, lookup))}" for k, c in enumerate(clauses, 1)]
            return Composed("\n".join(lines), hits, best_score)
    elif ask == "way" and not asks_one_item:
        # a "how" whose best sentence announces an enumeration (如何增强发展动能 → 一是…二是…): the enumeration
        for g in index.groups:
            if g.intro == scored[0][1]:
                return Composed(format_group(g, hits, index, lookup), hits, best_score)
    best = scored[0][1]
    chosen: list[Sentence] = []
    used = 0
    for score, s, _n in scored:
        if len(chosen) >= 4 or used >= max_chars:
            break
        if score < 0.6 * best_score:
            break
        cov = _covers(core, s, index, meaning)
        next_to = any(s.paragraph == c.paragraph and (abs(s.start - c.end) <= 2 or abs(c.start - s.end) <= 2)
                      for c in chosen)
        if chosen and cov < KEEP_SHARE * best_cov and not (next_to and cov > 0):
            continue
        if any(_similar(c.text, s.text) for c in chosen):
            continue
        if chosen and s.essay_id != best.essay_id and score < 0.85 * best_score:
            continue
        chosen.append(s)
        used += len(s.text)
        if len(chosen) == 1 and ask not in ("list", "definition") and _opens_paragraph(s, index) and \
                len(s.text) < ITEM_HEADING_CHARS:
            # the best match is a heading (强化安全协同，推动产业开放发展。): what it says is in the sentences under it
            for body in _rest_of_paragraph(s, index)[:2]:
                chosen.append(body)
                used += len(body.text)
            continue
        if len(s.text) < 25:  # a lead-in (“首要的是明晰推进思路。”): its content follows, if on the topic
            nxt = _next_in_paragraph(s, index)
            if nxt is not None and nxt not in chosen and _covers(core, nxt, index, meaning) > 0:
                chosen.append(nxt)
                used += len(nxt.text)
    parts = [p for s in chosen for p in ([s] if enumerative else focus(s, core, index, topic=topic))]
    return Composed(_format(parts, hits, index, lookup), hits, best_score)


def named_item(question: str, index: SentenceIndex, hits: Sequence[Hit]) -> str:
    """The heading of a list item the question names word for word (提升区域原始创新能力 in 傅晋华提出了哪些提升
    区域原始创新能力的措施): the question is about that item, not about the list it belongs to."""
    bare = re.sub(r"\W", "", question)
    essays = {h.chunk.essay_id for h in hits[:3]}
    best = ""
    for g in index.groups:
        if g.essay_id not in essays:
            continue
        for item in g.items:
            lead = re.sub(rf"^(?:[{CN_NUM}]是|第[{CN_NUM}][，、]|首先|其次|再次|最后)", "", item[0].text)
            head = re.sub(r"\W", "", re.split(r"[，。；]", lead)[0])
            if len(head) >= NAMED_ITEM_CHARS and head in bare and len(head) > len(best):
                best = head
    return best


NAMED_ITEM_CHARS = 6  # a shorter heading (科技水平高) is a topic word many questions use without meaning the item


def item_run(item: str, hits: Sequence[Hit], index: SentenceIndex) -> list[Sentence]:
    """The sentence that heads a list item, plus the rest of its paragraph (its explanation), in order."""
    key = re.sub(r"\W", "", re.sub(rf"^[{CN_NUM}]是", "", item))
    if len(key) < 2:
        return []
    essays = list(dict.fromkeys(h.chunk.essay_id for h in hits)) or list(index.sentences)

    def heads(s: Sentence) -> bool:  # the item's own heading, not an enumeration that names it in passing
        return re.sub(r"\W", "", re.sub(rf"^(?:[{CN_NUM}]是|第[{CN_NUM}][，、]|首先|其次|再次|最后)", "", s.text)).startswith(key)

    for eid in essays:
        sents = index.sentences.get(eid, [])
        titled = {si for si, sec in enumerate(index.essays[eid].sections) if re.sub(r"\W", "", sec.title).startswith(key)}
        for i, s in enumerate(sents):
            if heads(s) or (s.section_index in titled and (i == 0 or sents[i - 1].section_index != s.section_index)):
                run, used = [s], len(s.text)
                for nxt in sents[i + 1:]:
                    if nxt.paragraph != s.paragraph or nxt.ordinal or used >= ITEM_CHARS:
                        break
                    run.append(nxt)
                    used += len(nxt.text)
                return run
    return []


def _opens_paragraph(s: Sentence, index: SentenceIndex) -> bool:
    sents = index.sentences[s.essay_id]
    i = sents.index(s)
    return i == 0 or sents[i - 1].paragraph != s.paragraph


def _rest_of_paragraph(s: Sentence, index: SentenceIndex) -> list[Sentence]:
    """The sentences after s in its paragraph, up to the next list item."""
    sents = index.sentences[s.essay_id]
    out = []
    for nxt in sents[sents.index(s) + 1:]:
        if nxt.paragraph != s.paragraph or nxt.ordinal:
            break
        out.append(nxt)
    return out


def _next_in_paragraph(s: Sentence, index: SentenceIndex) -> Sentence | None:
    sents = index.sentences[s.essay_id]
    i = sents.index(s)
    if i + 1 < len(sents) and sents[i + 1].paragraph == s.paragraph and not sents[i + 1].ordinal:
        return sents[i + 1]
    return None


def format_group(group: ListGroup, hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None) -> str:
    """An enumeration as a list: its introduction, then one line per item, every sentence cited."""
    essay = index.essays[group.essay_id]
    lines = [f"{essay.author}在《{essay.title}》中提出："]
    if group.intro is not None:
        lines[0] += _cite(group.intro.text, _hits_for(group.intro, hits, index, lookup))
    numbered = not all(item[0].ordinal for item in group.items)
    for k, item in enumerate(group.items, 1):
        lead = item[0]
        explained = [lead, *([x] if (x := explanation(lead, index)) is not None else [])]
        body = "".join(_cite(s.text, _hits_for(s, hits, index, lookup)) for s in explained)
        lines.append(f"{k}. {body}" if numbered else body)
    return "\n".join(lines)


# What makes a sentence the explanation of a terse list item: it defines or describes (是指, 体现为, 意味着).
_EXPLAINS = re.compile(r"是指|指的是|体现为|表现为|意味着|就是|即|要求|关键在于|重点是")
ITEM_HEADING_CHARS = 25  # an item sentence shorter than this is a heading (生产效率优。): it needs its explanation


def explanation(lead: Sentence, index: SentenceIndex, window: int = 3) -> Sentence | None:
    """The sentence that says what a terse list item means: among the next few of its paragraph, the first that
    defines or describes, else the next one; None for an item that explains itself or has nothing after it."""
    if len(lead.text) >= ITEM_HEADING_CHARS:
        return None
    sents = index.sentences[lead.essay_id]
    i = sents.index(lead)
    after = []
    for s in sents[i + 1:i + 1 + window]:
        if s.paragraph != lead.paragraph or s.ordinal:
            break
        after.append(s)
    if not after:
        return None
    return next((s for s in after if _EXPLAINS.search(s.text)), after[0])


def _format(parts: list[Sentence], hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None) -> str:
    """Group the chosen sentences by essay (in order of first choice) and by position inside each essay."""
    order: list[str] = []
    for s in parts:
        if s.essay_id not in order:
            order.append(s.essay_id)
    out = []
    for eid in order:
        essay = index.essays[eid]
        group = sorted((s for s in parts if s.essay_id == eid), key=lambda p: p.start)
        out.append(f"{essay.author}在《{essay.title}》中指出：{_quote(group, hits, index, lookup)}")
    return "\n\n".join(out)


def quote_sentences(parts: Sequence[Sentence], hits: list[Hit], index: SentenceIndex,
                    lookup: ChunkLookup | None = None) -> str:
    """The given sentences as a cited quote grouped by essay (what a premise correction shows)."""
    return _format(list(parts), hits, index, lookup)


MIN_CLAUSE_ITEMS = 3  # fewer ；-clauses are one statement in two halves, not a list


def _clauses_of(s: Sentence) -> list[Sentence]:
    """The ；-separated clauses of a sentence, as sentences with their own offsets."""
    return [Sentence(s.essay_id, s.section_index, s.paragraph, s.start + m.start(), s.start + m.end(), m.group(0), 0)
            for m in re.finditer(r"[^；]+；?", s.text) if m.group(0).strip("；。 ")]


def _close(text: str) -> str:
    """A clause ending in ； shown on its own line ends like a sentence."""
    return text[:-1] + "。" if text.endswith("；") else text


def focus(s: Sentence, core: Sequence[str], index: SentenceIndex, limit: int = 110,
          topic: Sequence[str] = ()) -> list[Sentence]:
    """A long enumerating sentence narrowed to its clauses (split at ；) that carry the question's words (the
    clause naming the question's topic nouns, if one does)."""
    if len(s.text) <= limit or "；" not in s.text:
        return [s]
    clauses = _clauses_of(s)
    scores = [index.coverage(core, c.text) * (1.0 if not topic or any(t in c.text for t in topic) else OFF_TOPIC)
              for c in clauses]
    top = max(scores)
    if top <= 0:
        return [s]
    keep = [c for c, sc in zip(clauses, scores, strict=True) if sc >= 0.8 * top][:2]
    return keep


def _quote(parts: Sequence[Sentence], hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None) -> str:
    """Cited quotes of sentences or clauses; a clause ending in ； closes with 。 when it ends the quote."""
    out = []
    for k, part in enumerate(parts):
        text = part.text
        if text.endswith("；") and (k == len(parts) - 1 or parts[k + 1].start != part.end):
            text = text[:-1] + "。"
        out.append(_cite(text, _hits_for(part, hits, index, lookup)))
    return "".join(out)
