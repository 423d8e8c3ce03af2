"""Lists in the essays: the chunks holding the items of one enumeration, so a list question gets all of them.

An essay announces a list and then gives its items as `一是……二是……` clauses (or 首先/其次, 第一/第二), as
paragraphs opened by a short lead phrase (`科技水平高。……`), or as sibling sections whose titles are their own
lead sentences. `find_groups` recovers those runs from an essay's chunks; `group_hits` moves a list question's
best-ranked list to consecutive hits, items in reading order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rag.types import Chunk

_CN = {c: n for n, c in enumerate("一二三四五六七八九十", 1)}
# An ordinal opening a sentence or clause: 一是 / 第一， / 首先， (the number of the item, 0 = "the next one").
_ORDINAL = re.compile(r"(?:^|(?<=[。！？；：\n]))\s*(?:([一二三四五六七八九十])是|第([一二三四五六七八九十])[，、,]"
                      r"|(首先|其次|再次|最后)[，、,])")
_SEQUENCE_WORDS = {"首先": 1, "其次": 2, "再次": 3, "最后": 0}
# A paragraph opened by a short lead phrase ending in 。 (`生产效率优。`) is one item of a list of such paragraphs.
_LEAD_PHRASE = re.compile(r"^[^，。；：,]{2,10}。")
MIN_LEAD_ITEMS = 3  # fewer lead-phrase paragraphs in a row are ordinary short sentences, not a list

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


@dataclass(frozen=True)
class ListGroup:
    """One enumeration: the chunk announcing it (when the first item does not share it) and the item chunks."""

    essay_id: str
    intro: int | None  # index into the chunk list
    items: tuple[int, ...]  # indices into the chunk list, in reading order

    @property
    def members(self) -> tuple[int, ...]:
        """Intro (if any) and items, in reading order."""
        return ((self.intro,) if self.intro is not None else ()) + self.items


def ordinals(text: str) -> list[int]:
    """Item numbers the text's sentences open with (`一是` -> 1; `最后` -> 0, meaning "the next")."""
    out = []
    for m in _ORDINAL.finditer(text):
        if m.group(1) or m.group(2):
            out.append(_CN[m.group(1) or m.group(2)])
        else:
            out.append(_SEQUENCE_WORDS[m.group(3)])
    return out


def _ordinal_runs(chunks: Sequence[Chunk], rows: Sequence[int]) -> list[ListGroup]:
    groups: list[ListGroup] = []
    items: list[int] = []
    last = 0
    intro: int | None = None

    def close() -> None:
        if last >= 2 and len(items) >= 1:
            groups.append(ListGroup(chunks[items[0]].essay_id, intro, tuple(items)))

    for pos, i in enumerate(rows):
        for n in ordinals(chunks[i].text):
            if n == 1:
                close()
                first = chunks[i].text.lstrip()
                opens = bool(_ORDINAL.match(first)) and ordinals(first[:4]) == [1]
                intro = rows[pos - 1] if opens and pos > 0 else None
                items, last = [i], 1
            elif items and (n == last + 1 or n == 0):
                last += 1
                if items[-1] != i:
                    items.append(i)
    close()
    return groups


def _starts_paragraph(chunks: Sequence[Chunk], rows: Sequence[int], pos: int) -> bool:
    if pos == 0:
        return True
    prev, cur = chunks[rows[pos - 1]], chunks[rows[pos]]
    return prev.section_index != cur.section_index or prev.paragraph_end < cur.paragraph_start


def _runs(chunks: Sequence[Chunk], rows: Sequence[int], candidates: Iterable[int],
          joins: Callable[[int, list[int]], bool], min_items: int,
          intro_of: Callable[[int], int | None]) -> list[ListGroup]:
    """Runs of consecutive candidate positions (in `rows`) that `joins` accepts, as groups of `min_items` or more;
    `intro_of(first position)` is the passage that introduces a run, if any."""
    groups: list[ListGroup] = []
    run: list[int] = []

    def close() -> None:
        if len(run) >= min_items:
            groups.append(ListGroup(chunks[rows[run[0]]].essay_id, intro_of(run[0]), tuple(rows[p] for p in run)))

    for pos in candidates:
        if joins(pos, run):
            run.append(pos)
        else:
            close()
            run = []
    close()
    return groups


def _lead_runs(chunks: Sequence[Chunk], rows: Sequence[int]) -> list[ListGroup]:
    """Paragraphs of one section that each open with a lead phrase (首先/其次/最后…)."""
    def joins(pos: int, run: list[int]) -> bool:
        i = rows[pos]
        return bool(_LEAD_PHRASE.match(chunks[i].text)) and (
            not run or chunks[rows[run[-1]]].section_index == chunks[i].section_index)

    def intro_of(first: int) -> int | None:
        same = first > 0 and chunks[rows[first - 1]].section_index == chunks[rows[first]].section_index
        return rows[first - 1] if same else None

    starts = (pos for pos in range(len(rows)) if _starts_paragraph(chunks, rows, pos))
    return _runs(chunks, rows, starts, joins, MIN_LEAD_ITEMS, intro_of)


def _section_runs(chunks: Sequence[Chunk], rows: Sequence[int]) -> list[ListGroup]:
    """Sibling sections whose title is the lead sentence of their own text (the parser titled them so)."""
    firsts = [pos for pos, i in enumerate(rows)  # positions of each section's first chunk
              if pos == 0 or chunks[rows[pos - 1]].section_index != chunks[i].section_index]

    def joins(pos: int, run: list[int]) -> bool:
        c = chunks[rows[pos]]
        head = re.sub(r"^(?:[一二三四五六七八九十]是|第[一二三四五六七八九十][，、,])", "", c.text.lstrip())
        title = c.section.rstrip("。")
        return len(title) >= 4 and head.startswith(title)

    return _runs(chunks, rows, firsts, joins, 2, lambda first: rows[first - 1] if first > 0 else None)


def find_groups(chunks: Sequence[Chunk], rows: Sequence[int]) -> list[ListGroup]:
    """The lists of one essay, given the indices of its passages in reading order."""
    out: list[ListGroup] = []
    seen: set[tuple[int, ...]] = set()
    for g in _ordinal_runs(chunks, rows) + _section_runs(chunks, rows) + _lead_runs(chunks, rows):
        if g.items not in seen:
            seen.add(g.items)
            out.append(g)
    return out


def is_list_question(question: str) -> bool:
    """True when the question asks for the items of a list."""
    return LIST_QUESTION.search(question) is not None


def group_hits(ranked: Sequence[int], groups_of: Callable[[int], Sequence[ListGroup]], limit: int,
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
