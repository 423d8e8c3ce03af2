"""List items inside the sentence index: an item's own sentences, and the lists one sentence holds in its clauses.

A list item is addressed three ways: by a follow-up's ordinal (the item the last answer showed), by a question
that names its heading word for word, or by the noun a list question counts (哪几个转变 is answered by the
sentence whose clauses each end in 转变). The composer (rag.extractive) quotes what these functions return.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag import citations as cit
from rag.sentences import CN_NUM, Sentence, SentenceIndex, bigrams
from rag.types import Hit

_LEAD = re.compile(rf"^(?:[{CN_NUM}]是|第[{CN_NUM}][，、]|首先|其次|再次|最后)")
ITEM_CHARS = 320  # an item's own explanation: the sentences after its heading in its paragraph, up to this many
NAMED_ITEM_CHARS = 6  # a shorter heading (科技水平高) is a topic word many questions use without meaning the item
MIN_CLAUSE_ITEMS = 3  # fewer parallel clauses are one statement in two halves, not a list


def clauses_of(s: Sentence, stops: str = "；") -> list[Sentence]:
    """The clauses of a sentence split after each of `stops`, as sentences with their own offsets."""
    return [Sentence(s.essay_id, s.section_index, s.paragraph, s.start + m.start(), s.start + m.end(), m.group(0), 0)
            for m in re.finditer(rf"[^{stops}]+[{stops}]?", s.text) if m.group(0).strip(f"{stops}。 ")]


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
            head = re.sub(r"\W", "", re.split(r"[，。；]", _LEAD.sub("", item[0].text))[0])
            if len(head) >= NAMED_ITEM_CHARS and head in bare and len(head) > len(best):
                best = head
    return best


def item_run(item: str, hits: Sequence[Hit], index: SentenceIndex) -> list[Sentence]:
    """The sentence that heads a list item, plus the rest of its paragraph (what the item says to do), in order;
    an item that is one clause of a longer sentence (a list inside one sentence) is that clause."""
    key = re.sub(r"\W", "", re.sub(rf"^[{CN_NUM}]是", "", item))
    if len(key) < 2:
        return []
    essays = list(dict.fromkeys(h.chunk.essay_id for h in hits)) or list(index.sentences)

    def heads(s: Sentence) -> bool:  # the item's own heading, not an enumeration that names it in passing
        return re.sub(r"\W", "", _LEAD.sub("", s.text)).startswith(key)

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
    if len(key) < NAMED_ITEM_CHARS:
        return []
    raw = re.sub(rf"^[{CN_NUM}]是", "", cit.strip_markers(item)).strip(" 。；，")
    for eid in essays:
        for s in index.sentences.get(eid, []):
            at = s.text.find(raw)
            if at >= 0 and len(s.text) - len(raw) > 3:  # one clause of the sentence, with its closing mark
                end = at + len(raw) + (1 if s.text[at + len(raw):at + len(raw) + 1] in ("，", "；", "。") else 0)
                return [Sentence(s.essay_id, s.section_index, s.paragraph, s.start + at, s.start + end,
                                 s.text[at:end], 0)]
            if key in re.sub(r"\W", "", s.text):
                return [s]
    return []


def noun_clauses(s: Sentence, nouns: Sequence[str]) -> list[Sentence]:
    """The items of a list written as parallel clauses of one sentence, each ending in the noun the question
    counts (促使A由…向…转变，B由…向…转变，… for 哪几个转变; 统筹A与B的关系，…；统筹C与D的关系 for 哪些关系): an item
    starts at a clause ending in the noun and runs to the next one. Empty when fewer than MIN_CLAUSE_ITEMS."""
    for noun in nouns:
        if noun not in s.text:
            continue
        items: list[Sentence] = []
        for c in clauses_of(s, "，；"):
            if re.sub(r"\W", "", c.text).endswith(noun):
                start = c.start if items else s.start  # a lead-in (在实践中，) stays with the first item
                items.append(Sentence(s.essay_id, s.section_index, s.paragraph, start, c.end,
                                      s.text[start - s.start:c.end - s.start], 0))
            elif items:
                last = items[-1]
                items[-1] = Sentence(s.essay_id, s.section_index, s.paragraph, last.start, c.end,
                                     s.text[last.start - s.start:c.end - s.start], 0)
        if len(items) >= MIN_CLAUSE_ITEMS:
            return items
    return []


# A sentence counts as shown when a clause of it this long was quoted verbatim (answers quote ；-clauses). 12 took
# 强化企业科技创新主体地位, a phrase a list's introduction shares with the essay's opening, for shown; dev.jsonl
# and dataset.jsonl are the same at 12 and 16.
SHOWN_CLAUSE = 16
# 除了X: a sentence holding this share of X's bigrams is about X (推动区域协调发展 holds 5/7 of 促进区域协调发展's;
# dev.jsonl's one 除了 follow-up), when X is a phrase of at most BESIDES_GRAMS bigrams rather than a whole answer.
BESIDES_SHARE = 0.6
BESIDES_GRAMS = 40


def excluded(s: Sentence, exclude: Sequence[str]) -> bool:
    """Is the sentence what a “还说了什么/除了X” follow-up leaves out: already shown (quoted whole or by one of its
    clauses), or about X?"""
    grams = set(bigrams(s.text))
    if not grams:
        return False
    for text in exclude:
        bare = re.sub(r"\W", "", cit.strip_markers(text))
        if re.sub(r"\W", "", s.text) in bare or any(
                len(c) >= SHOWN_CLAUSE and c in bare for c in (re.sub(r"\W", "", p) for p in re.split(r"[，；]", s.text))):
            return True
        other = set(bigrams(text))
        if other and len(other) <= BESIDES_GRAMS and len(grams & other) >= BESIDES_SHARE * len(other):
            return True
    return False
