"""Lists in the essays: the markers that open an item, the enumerations an essay holds, and how a list
question's hits are regrouped.

This module is the one place that reads enumerations in essay text: its item markers (一是 / 第二， / 首先，, one
vocabulary) serve the parser (lead sentences start sections), retrieval and the answer layer. An essay announces a
list and gives its items as `一是……二是……` clauses, as paragraphs opened by a short lead phrase (`科技水平高。……`),
or as sibling sections whose titles are their own lead sentences. Retrieval and the answer layer need the lists
at two grains, and find ordinal runs with the same `ordinal_runs`: `passage_groups` gives the chunks holding one
list, so `group_hits` moves a list question's best-ranked list to consecutive hits, items in reading order;
`sentence_groups` gives the sentences that are its items, which the composer quotes (rag.items) and a follow-up's
ordinal refers to. Their lead-paragraph and section rules stay apart: a chunk is not a sentence (see each).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rag.types import Chunk, Essay, Sentence

CN_NUM = "一二三四五六七八九十"
LAST = -1  # the number of a 最后 item: "the next one", whatever the count so far (truthy: it is an item)
_SEQUENCE_WORDS = {"首先": 1, "其次": 2, "再次": 3, "最后": LAST}
# The marker that opens an item: 一是 / 第一，(or 第一是) / 首先，; the groups are the number or the sequence word.
_MARKER = rf"(?:([{CN_NUM}])是|第([{CN_NUM}])[，、,是]|(首先|其次|再次|最后)[，、,])"
_OPENING = re.compile("^" + _MARKER)  # at the start of a sentence
_CLAUSE_OPENING = re.compile(r"(?:^|(?<=[。！？；：\n]))\s*" + _MARKER)  # at the start of any sentence or clause
# The lead the parser takes off a lead sentence (一是/第一，, also 十一是) to make it a section title.
ORDINAL_LEAD = re.compile(rf"^(?:[{CN_NUM}]+是|第[{CN_NUM}]+[，,、])")
LEAD_CHARS = 10  # a paragraph's lead phrase (生产效率优。) is at most this long: a longer one is a sentence
MIN_LEAD_ITEMS = 3  # fewer lead-phrase paragraphs in a row are ordinary short sentences, not a list
# A paragraph opened by a short lead phrase ending in 。 (`生产效率优。`) is one item of a list of such paragraphs.
_LEAD_PHRASE = re.compile(rf"^[^，。；：,]{{2,{LEAD_CHARS}}}。")
# 一是 and a 二是 further than this many sentences on belong to two lists (the answer layer's window; chunks hold
# far fewer items and have none).
SENTENCE_WINDOW = 60
SECTION_LEAD_CHARS = 30  # a section's first sentence this short (the seed titles are 6-26) can be its item heading


def opening_ordinal(text: str) -> int:
    """The item number a sentence opens with (`一是` -> 1, `最后，` -> LAST), 0 when it opens no item."""
    m = _OPENING.match(text)
    return _number(m) if m else 0


def ordinals(text: str) -> list[int]:
    """Item numbers the text's sentences and clauses open with, in order (`一是` -> 1; `最后` -> LAST)."""
    return [_number(m) for m in _CLAUSE_OPENING.finditer(text)]


def strip_ordinal(text: str) -> str:
    """The text without the item marker it opens with (一是加强研究。 -> 加强研究。)."""
    return _OPENING.sub("", text)


def _number(m: re.Match[str]) -> int:
    if m.group(1) or m.group(2):
        return CN_NUM.index(m.group(1) or m.group(2)) + 1
    return _SEQUENCE_WORDS[m.group(3)]


def ordinal_runs(marks: Iterable[tuple[int, int]], window: int | None = None) -> list[list[int]]:
    """The enumerations among (position, item number) marks in reading order: the positions of each run 1, 2, 3…
    (LAST takes the next number) of two items or more. A 1 starts a new run, numbers out of sequence are skipped,
    and with `window` a mark `window` positions or more after its run's first is not one of its items."""
    runs: list[list[int]] = []
    run: list[int] = []
    last = 0
    for pos, n in marks:
        if n == 1:
            if len(run) >= 2:
                runs.append(run)
            run, last = [pos], 1
        elif run and (n == last + 1 or n == LAST) and (window is None or pos - run[0] < window):
            run.append(pos)
            last += 1
    if len(run) >= 2:
        runs.append(run)
    return runs


@dataclass(frozen=True)
class ListPassages:
    """One enumeration as retrieval sees it: the chunk announcing it (when the first item does not share it) and
    the chunks holding its items."""

    essay_id: str
    intro: int | None  # index into the chunk list
    items: tuple[int, ...]  # indices into the chunk list, in reading order

    @property
    def members(self) -> tuple[int, ...]:
        """Intro (if any) and items, in reading order."""
        return ((self.intro,) if self.intro is not None else ()) + self.items


def _ordinal_runs(chunks: Sequence[Chunk], rows: Sequence[int]) -> list[ListPassages]:
    """一是……二是…… runs through an essay's chunks; a chunk that opens with 一是 is introduced by the one before."""
    groups: list[ListPassages] = []
    marks = [(pos, n) for pos, i in enumerate(rows) for n in ordinals(chunks[i].text)]
    for run in ordinal_runs(marks):
        first = chunks[rows[run[0]]].text.lstrip()
        intro = rows[run[0] - 1] if opening_ordinal(first) == 1 and run[0] > 0 else None
        items = [rows[p] for p in dict.fromkeys(run)]  # a chunk holding several items is one member
        groups.append(ListPassages(chunks[items[0]].essay_id, intro, tuple(items)))
    return groups


def _starts_paragraph(chunks: Sequence[Chunk], rows: Sequence[int], pos: int) -> bool:
    if pos == 0:
        return True
    prev, cur = chunks[rows[pos - 1]], chunks[rows[pos]]
    return prev.section_index != cur.section_index or prev.paragraph_end < cur.paragraph_start


def _runs(chunks: Sequence[Chunk], rows: Sequence[int], candidates: Iterable[int],
          joins: Callable[[int, list[int]], bool], min_items: int,
          intro_of: Callable[[int], int | None]) -> list[ListPassages]:
    """Runs of consecutive candidate positions (in `rows`) that `joins` accepts, as groups of `min_items` or more;
    `intro_of(first position)` is the passage that introduces a run, if any."""
    groups: list[ListPassages] = []
    run: list[int] = []

    def close() -> None:
        if len(run) >= min_items:
            groups.append(ListPassages(chunks[rows[run[0]]].essay_id, intro_of(run[0]),
                                       tuple(rows[p] for p in run)))

    for pos in candidates:
        if joins(pos, run):
            run.append(pos)
        else:
            close()
            run = []
    close()
    return groups


def _lead_runs(chunks: Sequence[Chunk], rows: Sequence[int]) -> list[ListPassages]:
    """Paragraphs of one section that each open with a lead phrase (科技水平高。生产效率优。…)."""
    def joins(pos: int, run: list[int]) -> bool:
        i = rows[pos]
        return bool(_LEAD_PHRASE.match(chunks[i].text)) and (
            not run or chunks[rows[run[-1]]].section_index == chunks[i].section_index)

    def intro_of(first: int) -> int | None:
        same = first > 0 and chunks[rows[first - 1]].section_index == chunks[rows[first]].section_index
        return rows[first - 1] if same else None

    starts = (pos for pos in range(len(rows)) if _starts_paragraph(chunks, rows, pos))
    return _runs(chunks, rows, starts, joins, MIN_LEAD_ITEMS, intro_of)


def _section_runs(chunks: Sequence[Chunk], rows: Sequence[int]) -> list[ListPassages]:
    """Sibling sections whose title is the lead sentence of their own text (the parser titled them so)."""
    firsts = [pos for pos, i in enumerate(rows)  # positions of each section's first chunk
              if pos == 0 or chunks[rows[pos - 1]].section_index != chunks[i].section_index]

    def joins(pos: int, run: list[int]) -> bool:
        c = chunks[rows[pos]]
        head = ORDINAL_LEAD.sub("", c.text.lstrip())  # the parser took this lead off the title
        title = c.section.rstrip("。")
        return len(title) >= 4 and head.startswith(title)

    return _runs(chunks, rows, firsts, joins, 2, lambda first: rows[first - 1] if first > 0 else None)


def passage_groups(chunks: Sequence[Chunk], rows: Sequence[int]) -> list[ListPassages]:
    """The lists of one essay as chunks, given the indices of its passages in reading order."""
    out: list[ListPassages] = []
    seen: set[tuple[int, ...]] = set()
    for g in _ordinal_runs(chunks, rows) + _section_runs(chunks, rows) + _lead_runs(chunks, rows):
        if g.items not in seen:
            seen.add(g.items)
            out.append(g)
    return out


@dataclass(frozen=True)
class ListGroup:
    """One enumeration as the answer layer quotes it: the sentence that introduces it and its items in order."""

    essay_id: str
    intro: Sentence | None
    items: tuple[tuple[Sentence, ...], ...]  # each item: its lead sentence, plus a short explanation if terse


def sentence_groups(essay: Essay, sents: Sequence[Sentence]) -> list[ListGroup]:
    """One essay's lists as sentences: ordinal runs (一是……二是……), 一方面/另一方面 pairs, runs of paragraphs led
    by a short heading, and the sections of an essay that each open with a short lead sentence."""
    groups: list[ListGroup] = []
    for marked in ordinal_runs(((k, s.ordinal) for k, s in enumerate(sents) if s.ordinal), SENTENCE_WINDOW):
        first = marked[0]
        intro = sents[first - 1] if first > 0 and not sents[first - 1].ordinal else None
        groups.append(ListGroup(essay.id, intro, tuple((sents[k],) for k in marked)))
    by_para: dict[int, list[Sentence]] = {}
    for s in sents:
        by_para.setdefault(s.paragraph, []).append(s)
    # 一方面……另一方面……: two items announced by the sentence before them (dev.jsonl: 傅晋华's 战略意义 of 新质生产力
    # is such a pair, and a follow-up leaving out one side needs the other as an item)
    for para in by_para.values():
        for k, s in enumerate(para[:-1]):
            if s.text.startswith("一方面") and para[k + 1].text.startswith("另一方面"):
                groups.append(ListGroup(essay.id, para[k - 1] if k > 0 else None, ((s,), (para[k + 1],))))

    def leads(p: int) -> bool:  # a short heading sentence with the paragraph's explanation after it
        return _heading_len(by_para[p][0].text) <= LEAD_CHARS and len(by_para[p]) > 1

    paras = sorted(by_para)
    run: list[int] = []
    for p in [*paras, -1]:
        if p >= 0 and leads(p) and not by_para[p][0].ordinal and \
                (not run or (p == run[-1] + 1 and by_para[p][0].section_index == by_para[run[-1]][0].section_index)):
            run.append(p)
            continue
        if len(run) >= MIN_LEAD_ITEMS:
            prev = by_para.get(run[0] - 1)
            groups.append(ListGroup(essay.id, prev[-1] if prev else None, tuple(tuple(by_para[q][:2]) for q in run)))
        run = [p] if p >= 0 and leads(p) else []
    firsts = []
    for si in range(1, len(essay.sections)):
        in_sec = [s for s in sents if s.section_index == si]
        if in_sec and _heading_len(in_sec[0].text) <= SECTION_LEAD_CHARS and not in_sec[0].ordinal:
            firsts.append(in_sec[0])
    # every section after the opening leads with a short sentence, three or more of them: the sections are the items
    if len(firsts) >= 3 and len(firsts) == len(essay.sections) - 1:
        intro_candidates = [s for s in sents if s.section_index == 0]
        groups.append(ListGroup(essay.id, intro_candidates[-1] if intro_candidates else None,
                                tuple((s,) for s in firsts)))
    return groups


def _heading_len(text: str) -> int:
    return len(re.sub(r"[^\w]", "", text))


# A question asking for the items of a list (the kinds seen in the tuning sets: 有哪些举措, 哪几个方面,
# 三个特征, what are the ...). Other questions keep the plain ranking.
LIST_QUESTION = re.compile(
    r"哪些|哪几|几个方面|几方面|几点|几条|几项|几大|几种|几个|分别(?:是|有|包括)|列举|逐一|一一|"
    r"[两二三四五六七八九十\d]+(?:个|项|点|条|大|种)(?:方面|举措|措施|特征|路径|任务|转变|关系|方向|要求|领域)|"
    r"(?:举措|措施|路径|途径|特征|方面|方向|任务|做法|要求)(?:有|是|包括)?(?:什么|哪)|"
    r"\blist\b|\bways\b|\bmeasures\b|\bsteps\b|\bfeatures\b|\baspects\b",
    re.IGNORECASE,
)
WINDOW = 3  # a list found among the top WINDOW hits is expanded; lower ones are too weak a signal
MIN_MEMBERS = 2  # members of the list among the top 10 hits: one alone is a fact inside one item


def is_list_question(question: str) -> bool:
    """True when the question asks for the items of a list."""
    return LIST_QUESTION.search(question) is not None


def group_hits(ranked: Sequence[int], groups_of: Callable[[int], Sequence[ListPassages]], limit: int,
               min_members: int = MIN_MEMBERS) -> list[int]:
    """`ranked` with the best list among its top WINDOW entries made consecutive (the sentence announcing it,
    then its items in reading order) from its best-ranked member's place on; the best hit keeps rank 1.
    Unchanged when no top entry belongs to a list with `min_members` members in the top 10."""
    top = list(ranked[:limit])
    head10 = list(ranked[:10])
    for r, i in enumerate(top[:WINDOW]):
        groups = [g for g in groups_of(i) if sum(m in head10 for m in g.members) >= min_members]
        if not groups:
            continue
        # a chunk in two lists (the last item of one announcing the next): take the list more top hits are in
        g = max(groups, key=lambda gr: (sum(m in head10 for m in gr.members), i in gr.items))
        lead = [g.intro] if g.intro is not None and g.intro in head10 else []
        block = [m for m in lead + list(g.items) if m != top[0]]
        head = [top[0]] + [x for x in top[1:r] if x not in block]
        tail = [x for x in ranked if x not in block and x not in head]
        return (head + block + tail)[:limit]
    return top
