"""A claim and a clause of the essays in the same frame, differing in one slot that says the opposite.

A question often restates a sentence of the essays with one part changed: 行业规模已经很大 for 行业规模较小,
比例下降 for 比例逐渐上升, 共性技术导向大型企业 for 共性技术导向中小企业, 第十二次集体学习 for 第十一次集体学习,
彼此之间没什么依赖 for 相互高度依赖. Aligned character by character, the two share a frame (行业规模, 共性技术导向,
依赖) and differ in a short slot; the claim is contradicted when the two slots hold opposite ends of a scale
(大/小, 升/降, 快/慢), different numbers, or a negation on one side only. The frame must be long enough to be the
same statement, and no other clause of the passages may state the claim's slot itself. With the claim forms the
planner reads since (难道不是说…吗, 听说…), this took dev3.jsonl from 2 to 10 of 18 false premises corrected, and
flags none of the 325 questions of the tuning sets that presuppose nothing false (evals/check_premises.py).

    from rag.premise_contrast import contrast
    found = contrast("未来产业的技术路线已经基本定型、行业规模也已经很大", sentences, index)  # (sentence, explanation)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from rag.sentences import Sentence, SentenceIndex, bigrams, question_core

# Opposite ends of a scale, one character each (general language, not eval wording). Characters with many
# senses in these essays (上/下 in 上下游, 前/后 in 前瞻/后发, 内/外 in 国内外, 有/无) are left out.
# A level turned around by a move is opposite too (越来越低 vs 逐渐上升: dev8.jsonl 1 of 16 false premises).
_PAIRS = ("大小", "多少", "高低", "快慢", "升降", "增减", "强弱", "长短", "早晚", "难易", "新旧", "优劣", "宽严", "松紧",
          "轻重", "深浅", "进退", "涨跌", "扩缩", "盈亏", "冷热", "低升", "高降")
_OPPOSITE: dict[str, str] = {}
for _pair in _PAIRS:
    _OPPOSITE[_pair[0]] = _OPPOSITE.get(_pair[0], "") + _pair[1]
    _OPPOSITE[_pair[1]] = _OPPOSITE.get(_pair[1], "") + _pair[0]
_NEGATOR = re.compile(r"[不未没无非]|从未|并非")
_NUMERAL = re.compile(r"[0-9〇零一二两三四五六七八九十百千万]+")
# Words that sound like a negator but are not one (非常, 不断, 无论, 不仅, 未来: 未来产业 is no 未).
# 必不可少/缺一不可/不容忽视 affirm (dev7.jsonl: 1 of 8 why-questions, 平台载体…必不可少, was flagged as a false premise).
# 不能只/不应只 say "not only" (dev9.jsonl: 1 of 6 why-questions, 不能只盯着工业部门本身, was flagged).
_NOT_NEGATION = re.compile(r"(?:不能|不应|不该|不可|不是|不要)(?:只|仅|光|单纯|一味)|非常|不断|无论|不仅|不只|不论|未来|无不|不少|不同|不足|不平衡|并不|离不开|不可或缺|不得不|不可替代|"
                           r"必不可少|不可缺少|缺一不可|不容忽视|不可忽视|不容小觑|密不可分|不可分割")
# A clause that supposes (如果没有服务业的高质量发展, 欠发达地区如能…) asserts nothing to contradict a claim with (dev.jsonl: a true
# premise was flagged on one).
_SUPPOSE = re.compile(r"^(?:若|反之)|如果|假如|倘若|一旦|要是|只要|如能|若能")
# The second clause of an unmarked conditional (X，Y也很难…; X，才能Y): blind3.jsonl, 1 of 45 questions that
# presuppose nothing false was flagged on its condition.
_CONSEQUENCE = re.compile(r"也|就|便|才|都会|还会")
# A clause about other countries or the past: what they did, not what the author holds.
OTHERS = re.compile(r"西方国家|西方|过去|以往|老路")
# A claim that takes the others' or the past path as its model (借鉴西方先污染后治理的路子): naming 西方 itself does
# not make it a report of what others did. blind.jsonl and blind3.jsonl: 1 of 15 false premises.
FOLLOW = re.compile(r"借鉴|学习|效仿|仿照|照搬|沿用|复制|照着|跟着|走[^，。；]{0,12}(?:路子|老路|道路)")


def follows_others(claim: str) -> bool:
    """The claim takes others' path as a model (借鉴西方…): the follow verb comes before the others it names; in
    西方国家……没走过…老路 the others are the subject, and the claim is a report about them."""
    f, o = FOLLOW.search(claim), OTHERS.search(claim)
    if f is None or o is None:
        return False
    # or after them, as a recommendation (西方国家…的路子值得我们借鉴): dev7.jsonl 1 of 16 false premises
    return f.start() < o.start() or bool(re.search(r"(?:值得|可以|应该|应当|要|需要)(?:我们|我国)?$", claim[:f.start()]))


# A move from A to B (由A向B转变 / 从A转向B). A claim that A is no longer so (不再只讲效率优先) follows a text that
# moves away from A (blind3.jsonl: 1 of 45 questions that presuppose nothing false was flagged on one); rag.premise
# reads the same pattern for claims on the A side.
TRANSITION = re.compile(r"(?:由|从)(?P<a>[^，。；由从]{2,30}?)(?:向|转向|转为|到)(?P<b>[^，。；]{2,30}?)"
                        r"(?:转变|转型|转换|过渡|迈进|并重)")
LEFT_HELD = 0.6  # share of the left side's bigrams the negated claim must hold to be about it
# The frame the two share: at least this many characters in common (4: 行业规模, 共性技术导向), and at least this
# share of the claim clause's own characters (0.4: a claim clause and a clause about another thing share at most
# a word or two). A negation is compared in slots of at most SLOT_MAX characters (a slot, not a new clause).
FRAME_MIN = 4
FRAME_SHARE = 0.4
SLOT_MAX = 8
# Cuts and loosenings: negated, they affirm (不能放松监管 / 严格监管).
_CUT = re.compile(r"放松|放宽|削弱|削减|减少|降低|忽视|放弃|淘汰|压缩|缩减")
# How many characters next to the shared frame make up the slot compared (比例|下降反而… vs 比例|逐渐上升).
SLOT = 4
# A clause of the passages that holds this share of a claim clause's bigrams with the slot in place states it:
# the claim is supported there, whatever another clause says (以智能制造为重点推动企业数字化转型 is true).
SUPPORTED = 0.85


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in re.split(r"[，。；！？、：]", text) if len(c.strip()) >= 2]


# Degree and aspect adverbs come and go between a claim and its sentence (很大 / 较小, 已经定型 / 未确定): left out
# of the comparison so that the slot starts at the word that carries it.
_ADVERB = re.compile(r"已经|非常|比较|相当|十分|基本上?|逐渐|日益|越来越|正在|仍然|依然|也|已|很|较|都|还|更|就")


def _content(text: str) -> str:
    return _ADVERB.sub("", re.sub(r"[^\w]", "", question_core(text)).replace("的", ""))


def _negated(text: str) -> bool:
    return bool(_NEGATOR.search(_NOT_NEGATION.sub("", text)))


def _masked(text: str) -> str:
    """The text with its non-negating 不/未 words (不能只, 未来) blanked, same length: a slot's window may cut such a
    word in two (高质量不|能只盯着), and its 不 must still not count (dev9.jsonl: 1 of 6 why-questions was flagged)."""
    return _NOT_NEGATION.sub(lambda m: "_" * len(m.group(0)), text)


def _opposed(x: str, y: str) -> bool:
    """One side holds one end of a scale the other side holds the other end of (慢 / 快, 下降 / 上升)."""
    return any(o in y and o not in x and c not in y for c in x for o in _OPPOSITE.get(c, ""))


def slot_contrast(claim: str, clause: str) -> str | None:
    """How the claim clause's slot opposes the text clause's ("很大 / 较小"), None when it does not.

    A slot is what differs right next to a shared stretch of the frame: the first SLOT characters after it, or
    the last SLOT before it, on both sides."""
    a, b = _content(claim), _content(clause)
    if len(a) < FRAME_MIN or len(b) < FRAME_MIN:
        return None
    ops = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    ma, mb = _masked(a), _masked(b)
    shared = sum(i2 - i1 for tag, i1, i2, _j1, _j2 in ops if tag == "equal")
    if shared < FRAME_MIN or shared < FRAME_SHARE * len(a):
        return None
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            continue
        x, y = a[i1:i2], b[j1:j2]
        mx, my = ma[i1:i2], mb[j1:j2]
        before = ops[k - 1] if k > 0 and ops[k - 1][0] == "equal" else None
        after = ops[k + 1] if k + 1 < len(ops) and ops[k + 1][0] == "equal" else None
        windows = ([(slice(0, SLOT), slice(0, SLOT))] if before is not None else []) + \
                  ([(slice(-SLOT, None), slice(-SLOT, None))] if after is not None else [])
        for sx, sy in windows:
            wx, wy = x[sx], y[sy]
            # 削减 / 加大 opposes, 不应削减 / 加大 agrees: a negation on one side turns an opposite around
            if _opposed(wx, wy) and _negated(mx[sx]) == _negated(my[sy]):
                return f"{wx or '（无）'} / {wy or '（无）'}"
        nx, ny = _NUMERAL.match(x), _NUMERAL.match(y)
        if before is not None and nx and ny and nx.group(0) != ny.group(0):
            return f"{nx.group(0)} / {ny.group(0)}"
        # a negation on one side only, just before the shared words (没什么依赖 / 相互高度依赖); a negated cut or
        # loosening (不能放松) is an affirmation and is not counted
        # the text's slot may be longer when both slots lead their clauses (没走过 / 西方国家的工业化大都经历了,
        # before 先污染后治理): the text's subject comes first there. blind3.jsonl: 1 of 7 false premises
        lead = i1 == 0 and j1 == 0 and len(x) <= SLOT_MAX
        if len(x) > SLOT_MAX or (len(y) > SLOT_MAX and not lead):
            continue
        for anchor, (sx, sy) in ((after, (slice(-SLOT, None),) * 2), (before, (slice(0, SLOT),) * 2)):
            wx, wy = x[sx], y[sy]
            if anchor is not None and anchor[2] - anchor[1] >= 2 and _negated(mx[sx]) != _negated(my[sy]) \
                    and not _opposed(wx, wy) and not _CUT.search(x + y):
                return f"{wx or '（无）'} / {wy or '（无）'}"
    return None


def contrast(claim: str, sentences: Iterable[Sentence], index: SentenceIndex) -> tuple[Sentence, str] | None:
    """The sentence with a clause that restates one clause of the claim with its slot opposed, and how."""
    # a clause the next one answers with 也/就/才 after a comma (工业质量上不去，服务业也很难升级) is a condition: it
    # asserts nothing (a 、 joins claims: 技术路线已经定型、规模也做大了)
    pieces = re.split(r"，|,", claim)
    conditions = {c for k, piece in enumerate(pieces[:-1]) if _CONSEQUENCE.search(pieces[k + 1][:6])
                  for c in _clauses(piece)[-1:]}
    parts = [p for p in _clauses(claim) if len(_content(p)) >= FRAME_MIN and p not in conditions]
    found: tuple[float, Sentence, str] | None = None
    pool = list(sentences)
    left = [m.group("a") for s in pool for m in TRANSITION.finditer(s.text)]
    for part in parts:
        grams = bigrams(question_core(part))
        if any(index.coverage(grams, c) >= SUPPORTED for s in pool for c in _clauses(s.text)):
            continue  # a clause states this part as it is
        if _negated(part) and any(index.coverage(bigrams(question_core(a)), part) >= LEFT_HELD for a in left):
            continue  # 不再只讲效率优先: the passages themselves move away from it (由效率优先向…转变)
        for s in pool:
            for c in _clauses(s.text):
                if _SUPPOSE.search(c) or (_negated(part) and OTHERS.search(c)
                                          and (not OTHERS.search(claim) or follows_others(claim))):
                    continue  # a supposition, or others' path the claim declines (不能借鉴西方…)
                how = slot_contrast(part, c)
                if how is None:
                    continue
                score = index.coverage(grams, c)
                if found is None or score > found[0]:
                    found = (score, s, f"问题说“{part}”，文章的说法却是“{c}”。")
    return (found[1], found[2]) if found is not None else None
