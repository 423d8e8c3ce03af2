"""Premise checking: does a claim a question takes for granted match what the essays say?

The planner extracts the claim (rag.planner.presupposition_of); this module aligns it with the sentences of the
retrieved passages that share most of its content and looks for the ways a text contradicts a claim:
- the text moves away from it: 由A向B转变 / 从A转向B, with the claim on the A side, or the claim reverses the
  text's own 由A向B (从B转回A);
- the text rejects it or gives it to others: 避免/摒弃/防止/而不是/不走…, or 西方国家/过去…经历了 A;
- the opposite modality: the claim says 不可能/无法/没必要 where the text says 有机会/能够/要;
- the opposite polarity about the same object: the claim drops, cuts, loosens or belittles (放弃/压缩/放宽/
  无足轻重…) what the text says to strengthen, raise, tighten or calls key (加快/加大/严格/关键/才能…);
- another subject for the same superlative: the claim says X才是最P where the text says Y是最P.
- one thing only or one of two (只看/二选一/只要求) where the text takes it with others (不仅…也/统筹/每个), one model
  for all (统一) where the text gives each its own (因地制宜/各具特色);
- the order turned around: the claim's 先A再B where the text says 以B带动A;
- one clause of the text restated with one slot opposed (rag.premise_contrast), when none of the above applies.
Facts a question states (a year, a count, who said it) are checked in rag.premise_facts.
No list of known items: every rule reads the sentence's own structure, with short lexicons of opposing words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rag.premise_contrast import FOLLOW, contrast, follows_others
from rag.premise_contrast import OTHERS as _OTHERS
from rag.premise_contrast import TRANSITION as _TRANSITION
from rag.sentences import Sentence, SentenceIndex, bigrams, question_core
from rag.types import Hit

Status = Literal["contradicted"]

# A claim's own direction (从A转回B, 由A转向B): its end need not carry 转变.
# (转到/转移到: dev8.jsonl 1 of 16 false premises)
_CLAIM_TRANSITION = re.compile(r"(?:由|从)(?P<a>[^，。；由从]{2,30}?)(?:转回到?|回到|退回到?|转向|转为|转移到|转到|变为|向|到)"
                               r"(?P<b>[^，。；？?]{2,30}?)(?:上|上来|上去)?(?=[，。；？?]|$)")
# The same move told in time: 过去靠A，今后要转向B (dev9.jsonl: 1 of 7 false premises reversed the essay's 由要素驱动
# 向创新驱动转变 this way and was answered as if true).
_CLAIM_TEMPORAL = re.compile(r"(?:过去|以前|以往|原来|此前)[^，。；]{0,20}?(?:靠|依靠|依赖|来自|源于)(?P<a>[^，。；]{2,20}?)[，,；]\s*"
                             r"(?:今后|未来|以后|将来|现在|往后|下一步)[^，。；]{0,6}?"
                             r"(?:转向|转为|转到|改为|改成|变成|变为|依靠|靠|走向)(?P<b>[^，。；？?]{2,20}?)(?=[，。；？?]|$)")
# Words that put what follows them on the rejected side (减少/降低 are left out: their objects are often goals).
# (降低/减少…带来的风险: what brings the risk is what to move away from: dev9.jsonl, 1 of 7 false premises took
# 降低供应链过长、过于集中可能带来的风险 for a trend to follow)
_REJECT = re.compile(r"避免|摒弃|防止|告别|不走|不再|而不是|而非|不能|杜绝|摆脱|破除|走出|"
                     r"(?:降低|减少|化解|防范)(?=[^，。；]{2,24}(?:带来|引发|造成|导致)的?风险)")
# (not before 只/仅: 不能只盯着X says "not only X", denying nothing; dev9.jsonl 1 of 6 why-questions was flagged)
# (追不上/赶不上/补不上: a catching-up verb's negated potential, dev8.jsonl 1 of 16 false premises)
_NEG_MODAL = re.compile(r"(?:不可能|无法|不能|没有机会|没机会|没必要|没有必要|不需要|不必|无需|不应|不该|没有前途|无关紧要|不重要|没用|"
                        r"(?<=[追赶补跟])不(?:上|了|到))"
                        r"(?!只|仅|光|单纯|一味)")
# 可考虑/鼓励/支持/持续: the author endorses doing it (不能搞基础研究 vs 可考虑…持续开展基础研究: dev3.jsonl 1 of 18)
_POS_MODAL = re.compile(r"有机会|能够|可以|有望|可能|要(?!求|素)|需(?!求)|必须|应当|应(?!用)|才能|可考虑|鼓励|支持|持续|积极")
# (别再/不要再 X: stop doing X, dev13.jsonl 1 of 16 false premises, 别再死守多边贸易体制 against 坚定维护…)
_ABANDON = re.compile(r"放弃|抛弃|淘汰|取消|停止|否定|反对|忽视|抽离|撤出|削弱|限制|放宽|放松|不管|不顾|只注重|只靠|仅靠|别再|不要再|"
                      r"只依靠|单靠|继续靠|继续依靠|依旧靠|依然靠")
_STRENGTHEN_WORDS = (r"加快|推动|推进|促进|加强|强化|提升|提高|支持|鼓励|畅通|培育|壮大|发展|升级|做强|坚持|完善|夯实|严格|"
                     r"规范|统筹|兼顾|并重|转变|转向|深化|拓展|扩大|增强|大力|吸引|利用|维护")
_STRENGTHEN = re.compile(_STRENGTHEN_WORDS)
# Opposing pairs of policy verbs and evaluations (general language, not eval wording): a claim holding the first
# side about what a passage clause gives the second side is contradicted, unless the clause holds the first side
# too (减少排放 vs 降低排放 agree). They serve reversals without a structural cue: on dev.jsonl 4 of 14 false
# premises (压缩 vs 加大, 少参与 vs 强化, 放宽 vs 严格, 无足轻重 vs 才能), 2 of dataset.jsonl's, and none of the
# true premises of either set.
_POLARITY: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (_ABANDON, _STRENGTHEN),
    (re.compile(r"压缩|削减|缩减|减少|降低|减小|收缩|缩小|放慢|减弱|弱化|淡化|(?<![减缺不至多稀很较])少(?=[参投介用依发支关引])"),
     re.compile(r"加大|增加|扩大|提高|加强|强化|增强|提升|加快|拓展|壮大|深化|维护")),
    (re.compile(r"放宽|放松|放开|松绑"), re.compile(r"严格|从严|收紧|严控|规范")),
    # belittling vs a high verdict (无足轻重 vs 才能/大势所趋), or, weaker, the author urging it on (没必要 vs 推进)
    (_DISMISS := re.compile(r"无足轻重|无关紧要|可有可无|次要|不重要|不关键|没用|没有用|没什么用|多余|没有意义|意义不大|作用不大|"
                            r"不必要|没有必要|没必要"),
     re.compile(r"关键|重要|核心|首要|根本|主导|才能|必须|需要|离不开|决定|大势所趋|必然|前提|保障|有利于|有助于|第一|最具")),
    (_DISMISS, _STRENGTHEN),
    # removing or stopping vs building or setting up (撤销/拆掉 vs 建立健全/搭建): dev2.jsonl 2 of 16
    (re.compile(r"拆掉|拆除|撤销|撤除|撤掉|废除|废止|关闭|关停|叫停|解散|停办|停建|取消|停止"),
     re.compile(r"搭建|建立|建设|设立|构建|打造|健全|组建|创建|筹建|布局|支持|引进|吸引")),
    # below vs above the same comparand (不如/低于一般劳动者 vs 高于一般劳动者): dev2.jsonl 1 of 16
    (re.compile(r"不如|低于|弱于|差于|落后于|比不上|逊于"), re.compile(r"(?<!不)(?:高于|强于|优于|超过|领先于|好于)")),
    # one thing only, or one of two, vs the text taking it with others (只看X vs 不仅包括X，也包括Y; 二选一 vs 统筹
    # X与Y; 只要求关键节点 vs 每个节点): dev3.jsonl 3 of 18. 只有…才 is the text's own condition, not a restriction.
    # (光靠/光抓, 这一个方面就够了 against 两方面发力: dev7.jsonl 2 of 16 false premises)
    # (只讲了X, 别的都是次要的: dev8.jsonl 2 of 16 false premises; 只强调X: dev9.jsonl 1 of 7)
    (_EXCLUSIVE := re.compile(r"(?:只能)?(?:二选一|二者择一|非此即彼|择其一)|只(?!有)(?:看|要求|抓|管|靠|能|需|是|在|讲|提|谈|说|强调|重视|注重|盯着)|"
                r"(?<!不)仅(?:仅|看|靠|要求|需)"
                r"|单纯(?:看|靠)|光(?:靠|看|抓|凭|搞)|(?:这|那)?一个?(?:方面|项)(?:[^，。；]{0,6})?就(?:够|行|可以)"
                r"|(?:其他|别的|其余)[^，。；]{0,6}(?:不管|不用管|可以不管|用不着|次要|不重要|无所谓)"),
     re.compile(r"不仅|不只|不光|也包括|每[个一]|所有|统筹|兼顾|并重|既[^。；]{1,40}?又|协同|(?:两|多|几|[二三四五六])个?方面")),
    # one model for all vs each place its own (统一的区域科技创新模式 vs 因地制宜形成各具特色的…模式): dev3.jsonl 1 of 18
    # (统一管控 against 自由度高、各具特色: dev11.jsonl 1 of 14 false premises)
    (_UNIFORM := re.compile(r"统一(?:的|推行|采用|管控|管理)|一刀切|千篇一律|整齐划一|照搬"),
     re.compile(r"因地制宜|各具特色|差异化|特色化|分类施策|自由度高")),
    # the reverse: each its own rules vs one set of rules (各地自定规矩、各管一摊 vs 规则统一、监管协同): dev11.jsonl
    # 1 of 14 false premises
    (re.compile(r"各自为政|各管一摊|各行其是|各搞各的|各定各的|自定规矩|各自定|条块分割|分割|割裂"),
     re.compile(r"统一|协同|一体化|统筹|协调")),
    # closed vs open (把大科学装置关起门来 vs 进一步开放国内大科学装置): dev11.jsonl 1 of 14 false premises
    (re.compile(r"关起门|关上门|闭门|闭关|封闭|不对外|收回国内|只供本国|只给本国|自己关起"),
     re.compile(r"开放|对外|走出去|引进|国际联合|合作")),
    # put off vs put first (先把环保往后放一放 vs 将生态环境保护…置于优先地位): dev11.jsonl 1 of 14 false premises
    (re.compile(r"往后放|放一放|放到后面|放在后面|靠后|延后|推迟|搁置|缓一缓|暂缓|让位"),
     re.compile(r"优先|首位|首要|突出位置")),
    # administrative command vs the market's lead (以政府的行政指令为导向 vs 以市场为导向): dev11.jsonl 1 of 14
    (re.compile(r"行政指令|行政命令|政府指令|指令性|计划指令|政府说了算"),
     re.compile(r"以市场为导向|市场导向|市场机制|市场需求导向|市场化")),
    # a small or absent difference, or sameness, vs a marked difference (差异很小, 差不多 vs 明显的区域性差异):
    # dev2.jsonl 1 of 16, blind3.jsonl 1 of 7
    (_SAME := re.compile(r"(?<=差异|差距|区别|分化)(?:很|较|极|非常|比较|并)?(?:小|微小|细微|不大|不明显)|"
                         r"没有(?:什么|明显的?)?(?=差异|差距|区别)|差不多|相差无几|大同小异|不相上下|旗鼓相当|"
                         r"基本(?:一致|相同|持平|相当)|(?:没|没有)(?:什么|多大)?(?:两样|差别)"),
     re.compile(r"(?:明显|较大|很大|巨大|显著|悬殊)的?[^，。；]{0,6}(?:差异|差距|区别|分化)|(?:差异|差距)(?:较大|很大|明显|悬殊)")),
)

# Only X, and Y need not (只是制造业的事，服务业用不着参与) against a text naming X and Y together (与制造业、服务业深度
# 融合): dev7.jsonl 1 of 16 false premises.
_ONLY_NOT = re.compile(r"只(?:是|有|靠|抓|管|看|在)?(?P<x>[\u4e00-\u9fff]{2,8}?)(?:的事情?|的任务|的责任|的工作)?[，,、]\s*"
                       r"(?P<y>[\u4e00-\u9fff]{2,8}?)(?:用不着|不用|不必|无需|不需要|没必要)")
# One thing first, the other after (先A做完，再回头B) against a text doing both at once (既A又B, A与B并重, 统筹,
# 同步): dev2.jsonl 1 of 16; a text with its own 先…后 is read by the rules above.
# 等A完成了，再B says the same order (dev8.jsonl: 1 of 16 false premises).
_ORDER_CLAIM = re.compile(r"(?:先(?P<a>[^，。；]{2,30}?)(?:[，,]\s*(?:再|然后|之后|随后)|后)|"
                          r"等(?P<a2>[^，。；]{2,30}?)(?:完成|做完|搞完|结束|到位|完了)(?:了|以后|之后)?[，,]\s*(?:再|才))"
                          r"(?:回头|回过头来?|腾出手来?)?(?P<b>[^，。；？?]{2,30})")
# 以B带动A: B comes first and drives A (dev3.jsonl: 1 of 18 false premises reverses one).
_DRIVE = re.compile(r"以(?P<x>[^，。；以]{2,20}?)(?:带动|牵引|引领|驱动|倒逼|促进)(?P<y>[^，。；]{2,20})")
_TOGETHER = re.compile(r"既[^。；]+?又|并重|同步|同时|统筹|兼顾|一体")
_NEGATOR = re.compile(r"[不没无非未别]|避免|防止")
NEGATOR_REACH = 3  # characters before a cue a negator turns it around in (不是要淘汰, 不能放松)
# X才是最P / X是最P / 最P的是X: an exclusive or superlative statement about one subject.
_SUPERLATIVE = re.compile(r"(?P<s>[^，、。；：]{1,14}?)(?:才是|就是|是)[^，。；、最]{0,10}(?P<p>最[^，。；、]{1,10})")
_SUPERLATIVE_FIRST = re.compile(r"(?P<p>最[^，。；、]{1,10}?)的(?:是|要数|当属)(?P<s>[^，。；、？?]{1,14})")
# What a subject rests on (根本上/关键/首要/主要 + 在于/要靠/来自 X): a slot holding one thing (dev13.jsonl: 2 of 16
# false premises put another thing there, 根本上要靠…引进来 against 根本上要依靠高水平科技自立自强, 过去…主要是靠创新
# 驱动 against 主要来自初级生产要素的价格优势)
_KEY = re.compile(r"(?P<k>根本上|归根结底|关键|首要|主要)(?:的)?(?:就在于|在于|是靠|要依靠|依靠|要靠|来自于?|源于|取决于|就是|是|靠)"
                  r"(?P<x>[^，。；？?]{2,24})")
# A focus and what it drives (以X为重点推动Y): a claim may pair one text's X with another's Y.
_PAIRED = re.compile(r"以(?P<x>[^，。；以]{2,12}?)为(?:重点|抓手|核心|突破口|牵引|引领)(?:推动|推进|带动|促进|加快)?"
                     r"(?P<y>[^，。；？?]{2,20})")
_CARRIED = r"^(?:也|还|更|都|则|又|即|而)"  # a clause whose subject is carried over from the clause before
_NORMATIVE = re.compile(r"(?<![重主需])要|应(?!用)|必须|走[^，。；]{0,20}道路")
# Two things said to be unrelated (把A和B当成毫不相干的两类) against a text saying one is (a kind of) the other (A是…的B):
# dev11.jsonl 1 of 14 false premises.
_UNRELATED = re.compile(r"(?P<x>[\u4e00-\u9fff]{2,10}?)(?:和|与|跟|同)(?P<y>[\u4e00-\u9fff]{2,10}?)"
                        r"(?:当成|看作|视为|看成|是|之间)?[^，。；]{0,4}?(?P<cue>毫不相干|互不相干|不相干|毫无关系|没有关系|"
                        r"没什么关系|没关系|无关|两回事|不相关|截然不同)")
# Things filed under categories (把X归成Y、把Z归成W) against a text filing X under another of them (X等新W): a swap.
# dev11.jsonl 1 of 14 false premises.
_FILED = re.compile(r"把(?P<x>[\u4e00-\u9fff]{2,8}?)(?:归成|归为|归入|算作|算成|当成|当作|列为|看作|视为)(?:新的|新)?"
                    r"(?P<c>[\u4e00-\u9fff]{2,8}?)(?=[、，,；和]|$)")
# Share of the claim's weighted bigrams a sentence (or clause) must hold to count as talking about the claim:
# 0.45 aligned every contradicted premise of the tuning sets (dataset.jsonl, heldout.jsonl) to its passage
# while a claim about another topic stayed below 0.3.
ALIGN_MIN = 0.45
# Share of one side of a claim's own 由A向B that must be found on the opposite side of the passage's (0.6 holds
# both reversed transitions of dev.jsonl, shares 0.8-1.0, while a same-direction claim stays on its own side);
# also the share of a polar verb's object (or a belittled subject) the opposite clause must hold: the polar false
# premises of dev.jsonl and dataset.jsonl hold 0.68-1.0; the true premises of tests/test_premise.py with a cut
# the text asks for (降低消耗, 缩小差距) or a rise about something else (降低风险 vs 增强基础能力) hold 0.
SIDE_MIN = 0.6
WHOLE_SIDE = 0.9  # a claim side this aligned with one side of a passage's 由A向B names it outright


@dataclass(frozen=True)
class PremiseCheck:
    """A premise the essays contradict: the claim, why, the sentence that shows it and what the answer quotes."""

    claim: str
    status: Status
    explanation: str
    sentence: Sentence | None
    hits: tuple[Hit, ...] = ()
    shown: tuple[Sentence, ...] = ()  # sentences the answer quotes (empty: compose the answer as usual)
    source: Hit | None = None  # the passage stating the fact the explanation gives (a byline), cited with it

    def to_dict(self) -> dict[str, str]:
        """The `ask --json` shape."""
        evidence = self.sentence.text if self.sentence else self.source.chunk.text if self.source else ""
        return {"claim": self.claim, "status": self.status, "explanation": self.explanation, "evidence": evidence}


def strip_cues(claim: str) -> str:
    """The claim's content: its modal, polarity and exclusivity words removed, for aligning it with sentences."""
    out = _NEG_MODAL.sub(" ", claim)
    for weak, _strong in _POLARITY:
        out = weak.sub(" ", out)
    # the claim's own turn back (转回/回到/退回 A) is direction, not content: with it, 今后该转回依靠要素投入 held 0.44
    # of a text's 由要素驱动…向创新驱动转变 A side, below ALIGN_MIN (blind3.jsonl: 1 of 7 false premises)
    out = re.sub(r"(?:转|退|重新)回到?|回归|重回", " ", out)
    # how many things the claim allows (这一个方面, 一项) is the cue, not what it is about (只讲了科技创新这一个方面)
    out = re.sub(r"(?:这|那)?一个?(?:方面|项|点)", " ", out)
    return re.sub(r"应该|应当|必须|已经|完全|全部|一味|只|仅|就|都|才是|让|使", " ", out)


def share(index: SentenceIndex, grams: Sequence[str], text: str) -> float:
    """IDF-weighted share of `grams` found in `text` (0 without grams)."""
    return index.coverage(grams, text) if grams else 0.0


def aligned_share(index: SentenceIndex, grams: Sequence[str], text: str) -> float:
    """Share of the claim's bigrams in `text`, or, a little discounted, of those bigrams the essays use at all: a
    claim's own words (以…为首要目标, 今后继续) are in no sentence and would hide the part it shares with one.
    On blind.jsonl and blind3.jsonl (tuning sets since this round) 2 of 15 false premises sat on the A side of a
    由A向B or in a 过去… clause at 0.41-0.43 of all bigrams, below ALIGN_MIN."""
    seen = [g for g in grams if g in index.idf]
    return max(share(index, grams, text), 0.9 * share(index, seen, text) if len(seen) >= 4 else 0.0)


def check(claim: str, hits: Sequence[Hit], index: SentenceIndex) -> PremiseCheck | None:
    """The contradiction between `claim` and the retrieved passages, or None when none is found."""
    grams = bigrams(question_core(strip_cues(claim)))
    if len(grams) < 2:
        return None
    best: tuple[float, str, Sentence] | None = None
    seen: set[tuple[str, int]] = set()
    for h in hits[:5]:
        for s in index.in_span(h.chunk.essay_id, h.chunk.char_start, h.chunk.char_end):
            if (s.essay_id, s.start) in seen:
                continue
            seen.add((s.essay_id, s.start))
            verdict = _contradiction(claim, grams, s, index)
            if verdict is not None and (best is None or verdict[0] > best[0]):
                best = (verdict[0], verdict[1], s)
    if best is None:
        sentences = [s for h in hits[:5] for s in index.in_span(h.chunk.essay_id, h.chunk.char_start, h.chunk.char_end)]
        swapped = _mismatched(claim, list(dict.fromkeys(sentences)))
        if swapped is not None:
            return swapped
        opposed = contrast(claim, dict.fromkeys(sentences), index)
        if opposed is None:
            return None
        # the clause opposed may be a bare heading (二是推进数智化转型 for …用不着大企业带头): the sentence of its
        # paragraph holding more of the whole claim is shown with it (dev11.jsonl: 1 of 14 false premises quoted
        # the heading alone)
        near = [s for s in sentences if s.essay_id == opposed[0].essay_id and s.paragraph == opposed[0].paragraph]
        fuller = max(near, key=lambda s: share(index, grams, s.text))
        extra = (fuller,) if share(index, grams, fuller.text) > share(index, grams, opposed[0].text) else ()
        return PremiseCheck(claim, "contradicted", opposed[1], opposed[0], shown=(opposed[0], *extra))
    stance = _own_stance(best[2], grams, index) if _OTHERS.search(best[2].text) or _REJECT.search(best[2].text) \
        else None
    shown = (best[2],) + ((stance,) if stance is not None else ()) + _rest_of_claim(claim, best[2], index)
    if len(shown) == 1:
        shown += _under_heading(best[2], index)
    return PremiseCheck(claim, "contradicted", best[1], best[2], shown=shown)


# A paragraph's first sentence this short is its heading (注重要素协同，打造产业创新生态体系。: 18 characters; in
# the seed essays headings run 6-18 characters, the other first sentences of paragraphs 21 and more)
HEADING_MAX = 20


def _under_heading(s: Sentence, index: SentenceIndex) -> tuple[Sentence, ...]:
    """The sentence after a heading that contradicts a claim, which says what the heading means (…打造产业创新生态体系
    then 实现实体经济、科技创新、现代金融、人力资源协同发展; dev7.jsonl 1 of 16 false premises quoted the heading alone)."""
    own = [x for x in index.sentences[s.essay_id] if x.paragraph == s.paragraph]
    if len(s.text) > HEADING_MAX or not own or own[0].start != s.start or len(own) < 2:
        return ()
    return (own[1],)


def _others_given_own(claim: str, s: Sentence, grams: Sequence[str], index: SentenceIndex) -> tuple[float, str] | None:
    """The claim gives the others (西方国家, 过去) what the author holds for their own side: 西方国家一开始就把环境保护
    摆在头里 vs 西方国家…经历了先污染后治理, then 新型工业化应…将生态环境保护…置于优先地位 (dev13.jsonl: 1 of 16
    false premises). The claim's predicate aligns with the author's stance after the sentence, not with it."""
    others = _OTHERS.search(claim)
    clause = next((c for c in _clauses(s.text) if others and others.group(0) in c), None)
    if others is None or clause is None or follows_others(claim):
        return None
    own = _own_stance(s, grams, index)
    said = [g for g in bigrams(question_core(strip_cues(claim[others.end():]))) if g in index.idf]
    if own is None or len(said) < 2:
        return None
    held = share(index, said, own.text)
    if held >= SIDE_MIN > share(index, said, s.text):
        return held + 0.7, (f"文章中“{clause.strip()}”说的是其他国家或过去的做法；问题所说的是作者自己的主张："
                            f"“{own.text.rstrip('。')}”。")
    return None


def _mismatched(claim: str, sentences: Sequence[Sentence]) -> PremiseCheck | None:
    """The claim pairs one focus with another's object (以智能制造为重点推动园区数字化转型, where the text says 以智能
    制造为重点推动企业和行业数字化转型 and 以生态建构为重点推动园区数字化转型): both pairings are shown (dev3.jsonl:
    1 of 18 false premises; each half alone is a clause of the text, so no other rule sees it)."""
    m = _PAIRED.search(claim)
    if m is None:
        return None
    x, y = m.group("x"), m.group("y").rstrip("的")
    by_x = by_y = None
    for s in sentences:
        for t in _PAIRED.finditer(s.text):
            tx, ty = t.group("x"), t.group("y")
            if tx == x and y not in ty and ty not in y:
                by_x = (s, t.group(0))
            elif (y in ty or ty in y) and tx != x:
                by_y = (s, t.group(0))
    if by_x is None or by_y is None:
        return None
    return PremiseCheck(claim, "contradicted", f"文章说的是“{by_x[1]}”“{by_y[1]}”，问题把两者配错了。", by_x[0],
                        shown=tuple(dict.fromkeys((by_x[0], by_y[0]))))


def _rest_of_claim(claim: str, shown: Sentence, index: SentenceIndex) -> tuple[Sentence, ...]:
    """The next sentence of the shown one's paragraph that speaks to a clause of the claim the shown sentence does
    not (…全球分工只讲效率，跨国公司也都把供应链往少数地方集中: the second clause is answered by the sentence
    after, 跨国公司推动供应链分散化…; dev13.jsonl 1 of 16 false premises quoted only the first)."""
    after = next((x for x in index.sentences[shown.essay_id] if x.paragraph == shown.paragraph and x.start > shown.start),
                 None)
    if after is None:
        return ()
    for part in re.split(r"[，,；;]", claim):
        g = [x for x in bigrams(question_core(strip_cues(part))) if x in index.idf]
        if len(g) >= 3 and share(index, g, shown.text) < ALIGN_MIN and share(index, g, after.text) >= SIDE_MIN:
            return (after,)
    return ()


def _own_stance(s: Sentence, grams: Sequence[str], index: SentenceIndex) -> Sentence | None:
    """The sentence after s in its paragraph that says what the author holds instead (在此背景下，…应…)."""
    after = [x for x in index.sentences[s.essay_id] if x.paragraph == s.paragraph and x.start > s.start][:4]
    return next((x for x in after if _NORMATIVE.search(x.text) and not _OTHERS.search(x.text)
                 and share(index, grams, x.text) > 0), None)


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(r"[，。；！？]", text) if c.strip()]


def _spans(text: str) -> list[str]:
    """Each clause and each pair of adjacent clauses (产业韧性强，新型工业化才能持续推进: object, then verdict)."""
    cs = _clauses(text)
    # and the whole sentence: 既要A，为…，又要B puts the other half two clauses on (dev9.jsonl: 1 of 7 false premises)
    return cs + [f"{a}，{b}" for a, b in zip(cs, cs[1:], strict=False)] + (["，".join(cs)] if len(cs) > 2 else [])


def _affirms(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """A match of `pattern` in text that no negator just before it turns around (不重要 does not affirm 重要)."""
    for m in pattern.finditer(text):
        if not _NEGATOR.search(text[max(0, m.start() - NEGATOR_REACH):m.start()]):
            return m
    return None


def _contradiction(claim: str, grams: Sequence[str], s: Sentence, index: SentenceIndex) -> tuple[float, str] | None:
    """(alignment, explanation) when sentence s contradicts the claim."""
    text = s.text
    whole = share(index, grams, text)
    # a claim of several clauses is about this sentence when one of its clauses is (不能搞基础研究，只能承接现成技术)
    parts = [g for c in re.split(r"[，,、；]", claim) if len(g := bigrams(question_core(strip_cues(c)))) >= 3]
    whole = max([whole, *(share(index, g, text) for g in parts)]) if len(parts) > 1 else whole
    seen = [g for g in grams if g in index.idf]  # the user's own words (搞上去, 倒逼) are in no sentence
    whole = max(whole, 0.9 * share(index, seen, text)) if len(seen) >= 4 else whole
    swapped = _others_given_own(claim, s, grams, index)
    if swapped is not None:
        return swapped
    if whole < ALIGN_MIN * 0.8:
        return None
    own = _CLAIM_TRANSITION.search(claim) or _CLAIM_TEMPORAL.search(claim)
    for m in _TRANSITION.finditer(text):
        if own is not None:
            if _reversed(own, m, index):
                return whole + 1.0, f"文章的说法是“{_clause_at(text, m.start())}”，问题把方向说反了。"
            continue
        a, b = aligned_share(index, grams, m.group("a")), aligned_share(index, grams, m.group("b"))
        if a >= ALIGN_MIN and a > b and not _REJECT.search(claim) and "不再" not in claim:
            return a + 1.0, f"文章主张“由{m.group('a')}向{m.group('b')}转变”，即要从前者转向后者。"
    aligned = [(c, sh) for c in _clauses(text) if (sh := aligned_share(index, grams, c)) >= ALIGN_MIN]
    for clause, sh in aligned:
        rejected = _REJECT.search(clause)
        after = clause[rejected.end():] if rejected else ""
        if rejected and share(index, grams, after) >= ALIGN_MIN and not _REJECT.search(claim) and \
                not _NEG_MODAL.search(claim):
            return sh + 0.8, f"文章的说法是“{clause.strip()}”，是要避免或改变的做法，而不是主张。"
        if _OTHERS.search(clause) and (not _OTHERS.search(claim) or (follows_others(claim)
                                                                 and _affirms(FOLLOW, claim) is not None)):
            return sh + 0.7, f"文章中“{clause.strip()}”说的是其他国家或过去的做法，并不是作者的主张。"
    neg = _NEG_MODAL.search(claim)
    if neg:
        # the claim denies a predicate (不可能|实现赶超): the clause holding that predicate affirms it (有机会实现赶超)
        denied = re.split(r"[，,、；]", claim[neg.end():])[0]
        # the user's own verb (搞 in 不能搞基础研究) is in no sentence: only the predicate's corpus bigrams are compared
        predicate = [g for g in bigrams(question_core(denied)) if g in index.idf] or bigrams(question_core(denied))
        clauses = _clauses(text)
        for clause in clauses:
            pos = _POS_MODAL.search(clause)
            # 不能放松监管 is not answered by 严格监管: a polar verb of the predicate must be in the clause too
            polar_kept = all(weak.search(clause) for weak, _ in _POLARITY if weak.search(denied))
            # the predicate's head (实现赶超) in the clause, its other words (在新质生产力上) in the clauses before it
            # of the same sentence (…加快形成新质生产力，就有机会实现赶超): blind.jsonl 1 of 8 false premises
            before = text[:text.find(clause) + len(clause)]
            # or in the clause after it, the modal's complement running on (有机会实现赶超，缩小与经济发达地区的
            # 发展差距 for 不可能…追上发达地区): dev7.jsonl 1 of 16 false premises quoted another sentence
            k = clauses.index(clause)
            through = text[:text.find(clauses[k + 1]) + len(clauses[k + 1])] if k + 1 < len(clauses) else before
            held = max(share(index, predicate, clause),
                       share(index, predicate, before) if share(index, predicate[-2:], clause) >= 0.99 else 0.0,
                       share(index, predicate, through) if share(index, predicate[-2:], through[len(before):]) >= 0.99
                       else 0.0)
            if pos and polar_kept and held >= 0.6 and not _NEG_MODAL.search(clause):
                said = claim[max(0, neg.start() - 1):neg.end()] if re.fullmatch(r"不[上了到]", neg.group(0)) \
                    else neg.group(0)  # 不上 -> 追不上
                return whole + 0.6, f"问题说“{said}”，文章的说法却是“{clause.strip()}”。"
    order = _ORDER_CLAIM.search(claim)
    if order is not None and not _NEGATOR.search(claim[:order.start()]) and not re.search(r"先[^，。；]+后", text):
        first, then = (bigrams(question_core(strip_cues(re.sub(r"^把|做完|做好|完成|搞好|抓好", "", order.group(k) or ""))))
                       for k in (("a" if order.group("a") else "a2"), "b"))
        both = max(((min(share(index, first, sp), share(index, then, sp)), sp) for sp in _spans(text)
                    if _TOGETHER.search(sp)), default=(0.0, ""))
        if both[0] >= ALIGN_MIN:
            return whole + 0.6, f"问题说先后有序，文章的说法却是“{both[1].strip()}”，两者同时推进。"
        # the text puts the claim's second step first: 以B带动A (先A再倒逼B vs 以加快原始创新带动技术与产品创新)
        seen_first, seen_then = ([g for g in grams_ if g in index.idf] for grams_ in (first, then))
        for d in _DRIVE.finditer(text):
            if share(index, seen_first, d.group("y")) >= SIDE_MIN and share(index, seen_then, d.group("x")) >= SIDE_MIN:
                return whole + 0.6, f"问题说先后有序，文章的说法却是“{d.group(0)}”，先后正好相反。"
    only = _ONLY_NOT.search(claim)
    if only is not None:
        x, y = only.group("x"), only.group("y")
        for clause in _clauses(text):
            if re.search(f"{x}[、与和及]{y}|{y}[、与和及]{x}", clause):
                return whole + 0.6, f"问题说“{only.group(0)}”，文章的说法却是“{clause.strip()}”，两者并提。"
    related = _related(claim, text)
    if related is not None:
        return whole + 0.6, related
    polar = _polarity(claim, grams, text, index)
    if polar is not None:
        return polar
    return _key_slot(claim, text, whole, index) or _superlative(claim, text, whole)


def _reversed(own: re.Match[str], passage: re.Match[str], index: SentenceIndex) -> bool:
    """The claim's 从X到Y runs against the passage's 由A向B: X is found on the B side and Y on the A side."""
    x = bigrams(question_core(re.sub(r"(转变|转型|转换)$", "", own.group("a"))))
    y = bigrams(question_core(re.sub(r"(转变|转型|转换)$", "", own.group("b"))))
    a, b = passage.group("a"), passage.string[passage.start("b"):passage.end()]  # b with its end (…安全并重)
    xb, xa, ya, yb = share(index, x, b), share(index, x, a), share(index, y, a), share(index, y, b)
    # the claim heading for the passage's starting point (退回到效率优先) is against it even when its own starting
    # point shares little with the passage's goal (兼顾安全 against 效率与安全并重: 1 of 3 bigrams). dev5.jsonl: 1 of 6
    # false premises; check_premises.py false alarms unchanged
    if ya >= SIDE_MIN and ya > yb and xb > xa and (xb >= SIDE_MIN or ya >= WHOLE_SIDE):
        return True
    # or by the words only one side has: the claim leaves from what only the goal has (安全 of 效率与安全并重) for
    # a point without it (单纯追求效率), the user's words hiding the shares above (dev8.jsonl: 1 of 16 false premises)
    ga, gb = set(bigrams(question_core(a))), set(bigrams(question_core(b)))
    a_only, b_only = ga - gb, gb - ga
    sx, sy = set(x), set(y)
    return bool(sx & b_only) and not sx & a_only and not sy & b_only and bool(sy & ga)


def _related(claim: str, text: str) -> str | None:
    """The text relates what the claim keeps apart (A是…B against 毫不相干), or files one of the claim's things
    under another of the claim's categories (计算机等新劳动资料 against 把计算机归成新的劳动对象)."""
    apart = _UNRELATED.search(claim)
    if apart is not None:
        x, y = re.sub(r"^把", "", apart.group("x")), apart.group("y")
        for clause in _clauses(text):
            link = re.search(f"{x}[^，。；]{{0,3}}(?:是|属于|即)[^，。；]{{0,24}}{y}|{y}[^，。；]{{0,3}}(?:是|属于|即)[^，。；]{{0,24}}{x}",
                             clause)
            if link is not None:
                return f"问题说两者“{apart.group('cue')}”，文章的说法却是“{clause.strip()}”。"
    filed = [(m.group("x"), re.sub(r"^的", "", m.group("c"))) for m in _FILED.finditer(claim)]
    categories = {c for _x, c in filed}
    if len(categories) >= 2:
        for x, c in filed:
            for other in categories - {c}:
                found = re.search(f"{x}[^，。；]{{0,8}}?(?:等|和|、)?[^，。；]{{0,6}}?(?:新的?)?{other}", text)
                if found is not None and c not in found.group(0):
                    return f"问题把“{x}”归为“{c}”，文章的说法却是“{_clause_at(text, found.start())}”。"
    return None


def _polarity(claim: str, grams: Sequence[str], text: str, index: SentenceIndex) -> tuple[float, str] | None:
    """The claim cuts, drops or belittles what a clause of the text strengthens or calls key."""
    for weak, strong in _POLARITY:
        cue = _affirms(weak, claim)
        if cue is None:
            continue
        if weak is _EXCLUSIVE and any(m.start("a") <= cue.start() < m.end("a") for m in _CLAIM_TRANSITION.finditer(claim)):
            continue  # 从只讲效率转向兼顾安全 leaves the one-sided view: it holds the text's own 由A向B (dev18.jsonl d18-52)
        # what is belittled is the claim's subject (产业韧性 in 产业韧性对…无足轻重); what is cut, the verb's object
        # (基础研究的投入 in 基础研究的投入应该压缩): the text's verdict or opposite verb must be about the same thing
        # (what is taken alone is the claim's subject too, 打造产业创新生态体系 in …光靠科技创新一项就够了, and the text
        # takes it with others in a clause of its own: 注重要素协同，打造产业创新生态体系; dev7.jsonl 1 of 16)
        target = (bigrams(question_core(re.split(r"对|在|是|的作用|作用", strip_cues(claim))[0])) if weak is _DISMISS
                  else _object(claim, cue) + bigrams(question_core(strip_cues(claim[:cue.start()])))
                  if weak is _EXCLUSIVE else _object(claim, cue))
        # the claim's own clause holding the cue (收缩多边贸易 of 要限制外资进入、收缩多边贸易) may align alone
        part = bigrams(question_core(strip_cues(_clause_at(claim.replace("、", "，"), cue.start()))))
        seen = [g for g in grams if g in index.idf]  # the user's own words (全国各地采用) align with no sentence
        for span in _spans(text):
            sh = max(share(index, grams, span), share(index, part, span) if len(part) >= 3 else 0.0,
                     0.9 * share(index, seen, span) if len(seen) >= 4 else 0.0)
            if sh < ALIGN_MIN or weak.search(span) or _REJECT.search(span):
                continue
            verdict = _affirms(strong, span)
            if verdict is None:
                continue
            about = span if weak in (_DISMISS, _EXCLUSIVE) else _clause_at(span, verdict.start())
            # or the object's head after 的 (各地已经搭起来的科技创新平台载体: 平台载体 is what is removed)
            head = bigrams(question_core(strip_cues(re.split(r"[、，,；]", claim[cue.end():])[0].rsplit("的", 1)[-1])))
            # a sameness claim's content is its subject (我国各地区的基础研究水平 差不多): the span's alignment is
            # the subject's, and the claim's own words for it (各地区, 水平) leave its one clause at 0.32-0.45 of the
            # claim (dev2.jsonl, blind3.jsonl: 2 false premises), below SIDE_MIN
            # (the target's corpus words alone: 金融市场最好各地 holds the asker's 最好各地, dev11.jsonl)
            known = [g for g in target if g in index.idf]
            if weak is _SAME or share(index, target, about) >= SIDE_MIN or \
                    (len(known) >= 2 and share(index, known, about) >= SIDE_MIN) or \
                    (len(head) >= 3 and share(index, head, about) >= SIDE_MIN) or \
                    (weak is _UNIFORM and share(index, known, span) >= SIDE_MIN):
                # (one model for all: the subject may sit in an earlier clause of the sentence, 改造建立新型应用技术研发
                # 机构，…，探索建立自由度高、各具特色的创新高地: dev11.jsonl 1 of 14 false premises)
                # a mere push (推进X against X没必要) ranks below every other verdict on any sentence
                bonus = -1.0 if weak is _DISMISS and strong is _STRENGTHEN else 0.5
                said = claim[cue.start():cue.end() + (2 if len(cue.group(0)) == 1 else 0)]  # 少 -> 少参与
                if weak is _SAME and claim[max(0, cue.start() - 2):cue.start()] in ("差异", "差距", "区别", "分化"):
                    said = claim[cue.start() - 2:cue.end()]  # 很小 -> 差异很小
                elif len(said) <= 3 and len(whole_clause := _clause_at(claim, cue.start()).strip()) <= 20:
                    # 只讲 -> 只讲了科技创新这一个方面, without the asker's lead-in (听说…差不多)
                    said = re.sub(r"^(?:既然|听说|据说|有人说|我听说|其实)(?:说)?", "", whole_clause)
                elif len(said) <= 3:  # a long clause from its cue on (光靠 -> 光靠科技创新一项就够了)
                    said = re.split(r"[，,；;]", claim[cue.start():], maxsplit=1)[0]
                return sh + bonus, f"问题说“{said}”，文章的说法却是“{span.strip()}”。"
    return None


def _object(claim: str, cue: re.Match[str]) -> list[str]:
    """Bigrams of what a polar verb acts on: the words after it up to the next break, else those before it."""
    raw = re.split(r"[、，,；]|而是|而不是", claim[cue.end():])[0]
    after = question_core(strip_cues(raw))
    if len(re.findall(r"[^\W_]", after)) >= 2:
        return bigrams(after)
    before = [question_core(strip_cues(p)) for p in re.split(r"[、，,；]", claim[:cue.start()])]
    # 传统产业没有前途、应当淘汰: the nearest part before the verb that names something
    return bigrams(next((p for p in reversed(before) if len(re.findall(r"[^\W_]", p)) >= 2), ""))


def _clause_at(span: str, pos: int) -> str:
    """The clause of `span` holding position `pos`."""
    start = max(span.rfind(p, 0, pos) for p in "，；。") + 1
    ends = [i for p in "，；。" if (i := span.find(p, pos)) >= 0]
    return span[start:min(ends) if ends else len(span)]


def _key_slot(claim: str, text: str, whole: float, index: SentenceIndex) -> tuple[float, str] | None:
    """The claim names another thing than the text as what the same subject rests on (根本上要靠X vs 根本上要依靠Y,
    主要靠X vs 主要来自Y): such a slot holds one thing, so X is contradicted when X and Y share no word."""
    m = _KEY.search(claim)
    if m is None:
        return None
    subject = bigrams(question_core(strip_cues(claim[:m.start()])))
    for clause in _spans(text):
        t = _KEY.search(clause)
        if t is None or t.group("k") != m.group("k") or len(subject) < 2:
            continue
        if share(index, subject, clause[:t.start()]) < SIDE_MIN:
            continue  # another subject's key (增强发展动能是…的关键因素)
        if _different(question_core(m.group("x")), question_core(t.group("x"))):
            return whole + 0.6, f"文章说的是“{clause.strip()}”，而不是“{m.group('x').strip()}”。"
    return None


def _superlative(claim: str, text: str, whole: float) -> tuple[float, str] | None:
    """The claim gives a superlative (最活跃) to another subject than the text does (X才是最P vs Y是最P)."""
    m = _SUPERLATIVE.search(claim) or _SUPERLATIVE_FIRST.search(claim)
    if m is None:
        return None
    subject = re.split(r"[里中的，]", m.group("s"))[-1]
    clauses = _clauses(text)
    for k, clause in enumerate(clauses):
        t = _SUPERLATIVE.search(clause) or _SUPERLATIVE_FIRST.search(clause)
        if t is None:
            continue
        opposite = _opposite(m.group("p"), t.group("p"))
        if not opposite and t.group("p")[1:3] != m.group("p")[1:3]:  # the same superlative: 最活跃, 最具创新活力
            continue
        theirs, shown = re.split(r"[里中的]", re.sub(_CARRIED, "", t.group("s")))[-1], clause.strip()
        if not theirs and k > 0:  # 制造业是……，也是科技创新最活跃…: the subject is the previous clause's
            theirs, shown = clauses[k - 1].split("是")[0], f"{clauses[k - 1].strip()}，{shown}"
        if subject and theirs and _different(subject, theirs) and not opposite:
            return whole + 0.6, f"文章说的是“{shown}”，而不是{subject}。"
        if opposite and subject and theirs and not _different(subject, theirs):
            return whole + 0.6, f"问题说“{m.group('p')}”，文章的说法却是“{shown}”。"
    return None


# The opposite end of a scale after 最 (general language): 最少 vs 最多/最大, 最低 vs 最高.
_ANTONYM = {"少": "多大", "多": "少", "小": "大", "大": "小", "低": "高", "高": "低", "差": "好优", "弱": "强", "强": "弱",
            "慢": "快", "快": "慢"}


def _opposite(claimed: str, stated: str) -> bool:
    """The claim's superlative is the text's turned around (最不活跃 vs 最活跃, 最少 vs 最多); dev2.jsonl 1 of 16."""
    c, t = claimed[1:], stated[1:]
    if c.startswith("不") and not t.startswith("不"):
        return bool(c[1:3]) and c[1:3] == t[:2]
    return bool(c) and bool(t) and t[0] in _ANTONYM.get(c[0], "")


def _different(a: str, b: str) -> bool:
    """Two subjects share nothing: no character when one is a single character (人), else no bigram (服务业 vs
    制造业 share only 业)."""
    if min(len(a), len(b)) == 1:
        return not set(a) & set(b)
    return not set(bigrams(a)) & set(bigrams(b))


# English words for dropping, removing or belittling something (general language): an English claim holding one
# is contradicted by the retrieved Chinese sentence that answers it best when that sentence builds, strengthens or
# brings in (建立/加快/支持/引进…). Cuts (reduce, cut, lower) are left out: their objects are often goals
# (reduce emissions). dev2.jsonl: 3 of 16 false premises are English; no English question of dev.jsonl or
# dev2.jsonl holds one of these words.
_EN_WEAK = re.compile(r"\b(?:abandon\w*|scrap\w*|stop\w*|remov\w+|dismantl\w+|abolish\w*|shut\w* down|ban\w*|"
                      r"give up|phas\w+ out|keep\w* [\w' -]{2,40}? out|exclud\w+|eliminat\w+|get rid of|"
                      r"unimportant|irrelevant|unnecessary|pointless|useless|(?:does|do)(?: not|n't) matter)\b", re.I)
_EN_NOT = re.compile(r"\b(?:not|never|no)\s+(?:\w+\s+)?$|n't\s+(?:\w+\s+)?$", re.I)
_BUILD = re.compile(_STRENGTHEN_WORDS + r"|搭建|建立|建设|设立|构建|打造|健全|引进|吸引|开放|关键|重要|核心")
# How close to the best meaning score (1.0) a sentence must be to be the one the English claim is about.
EN_MEANING_MIN = 0.99


def check_english(claim: str, hits: Sequence[Hit], index: SentenceIndex,
                  meaning: Mapping[tuple[str, int], float]) -> PremiseCheck | None:
    """An English claim that drops or removes what the best matching Chinese sentence builds or strengthens."""
    cue = next((m for m in _EN_WEAK.finditer(claim) if not _EN_NOT.search(claim[:m.start()])), None)
    if cue is None or not meaning:
        return None
    for h in hits[:3]:
        for s in index.in_span(h.chunk.essay_id, h.chunk.char_start, h.chunk.char_end):
            if meaning.get((s.essay_id, s.start), 0.0) < EN_MEANING_MIN:
                continue
            for clause in _clauses(s.text):
                if _affirms(_BUILD, clause) and not any(weak.search(clause) for weak, _ in _POLARITY) \
                        and not _REJECT.search(clause):
                    return PremiseCheck(claim, "contradicted", f"问题说“{cue.group(0)}”，文章的说法却是“{clause.strip()}”。",
                                        s, shown=(s,))
    return None
