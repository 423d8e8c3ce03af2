"""Premise checks on the seed essays: each way a text contradicts a claim, and true claims left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import premise as pm
from rag import premise_facts as facts
from rag.parse import parse_page
from rag.sentences import SentenceIndex
from rag.types import Chunk, Essay, Hit

SEED_PAGE = Path(__file__).resolve().parent.parent / "seeds" / "000_c8df1a2c8d7c4acd.txt"
ESSAYS = parse_page(SEED_PAGE.read_text(encoding="utf-8"), "seed")
INDEX = SentenceIndex(ESSAYS)


def essay_of(author: str) -> Essay:
    return next(e for e in ESSAYS if e.author == author)


def whole_essay(author: str) -> list[Hit]:
    """The author's essay as one retrieved passage (what author-filtered retrieval narrows to)."""
    e = essay_of(author)
    chunk = Chunk(f"{e.id}-all", e.text, e.id, e.title, e.author, e.affiliation, "", 0, 0, 0, 0, len(e.text), "seed")
    return [Hit(chunk=chunk, score=1.0, rank=1)]


@pytest.mark.parametrize(("author", "claim", "shown"), [
    # the opposite polarity about the same object, no structural cue in the text
    ("李晓华", "制造业的技术水平应该降低", "提高制造业的技术水平"),  # 降低 vs 提高
    ("王静", "放松对中小金融机构的监管要求", "严格中小金融机构准入标准和监管要求"),  # 放松 vs 严格
    ("王成仁", "削弱企业科技创新主体地位", "强化企业科技创新主体地位"),  # 削弱 vs 强化
    ("王静", "数字化对产业转型可有可无", "数字化是全球经济转型的大势所趋"),  # belittled vs 大势所趋
    ("李晓华", "数智化转型没有必要", "推进数智化转型"),  # no need vs the author urging it on
    ("李晓华", "传统产业已经没有前途、应当淘汰", "传统产业转型升级"),  # the object before the verb
    ("王静", "限制数字技术在制造业的应用", "深化新一代信息技术在高端装备、新能源汽车等制造业领域的应用"),
    # removing what the text builds; below what the text puts above
    ("王静", "关闭产业安全预测预警系统", "建立健全产业安全预测预警系统"),
    ("傅晋华", "撤除已经建成的各类科技创新平台载体", "搭建各类科技创新平台载体"),  # the object's head after 的
    ("傅晋华", "创新人才的劳动素质低于一般劳动者", "普遍高于一般劳动者"),
    ("傅晋华", "我国基础研究发展的区域性差异很小", "存在明显的区域性差异"),  # a small difference vs a marked one
    ("傅晋华", "东部和中西部的基础研究发展大同小异", "存在明显的区域性差异"),  # sameness in the claim's own words
    # a negation on one side, the text's slot holding its subject first
    ("李晓华", "西方国家从未经历过先污染后治理", "西方国家的工业化大都经历了先污染后治理的过程"),
    # only one of what the text names together, or one side of its two
    ("王静", "信息技术融合只是服务业的事，制造业不用参与", "制造业、服务业深度融合"),
    ("李晓华", "贯彻高质量发展要求光抓增强高质量发展动能就够了", "两方面发力"),
    # the others' path recommended after naming them
    ("李晓华", "西方国家的工业化路子值得我们效仿", "西方国家的工业化大都经历了先污染后治理的过程"),
    # a claim's own 从A转到B against the text's 由B向A, and 等A完成了再B where the text does both at once
    ("王成仁", "产业发展的重心要从做强创新原动力转到做大市场规模上", "由注重做大市场规模向注重做强创新原动力转变"),
    ("王成仁", "要等产业基础再造完成了，再抓基础研究", "既做好产业基础再造，又狠抓基础研究"),
    ("王静", "打造产业创新生态体系时，只讲科技创新这一个方面", "实现实体经济、科技创新、现代金融、人力资源协同发展"),
    # a turn back to the side the text moves away from, without 从…
    ("王成仁", "产业发展应重新回到注重做大市场规模", "由注重做大市场规模向注重做强创新原动力转变"),
    # the claim reverses the text's own 由A向B
    ("王成仁", "产业链发展要从链式思维回到点式思维", "由优化单个部件产品的点式思维向终端整机反向牵引的链式思维转变"),
    ("李晓华", "全球分工要从效率与安全并重退回效率优先", "由效率优先向效率与安全并重转变"),
    ("李晓华", "全球分工要从兼顾安全退回到效率优先", "由效率优先向效率与安全并重转变"),  # the goal named loosely
    # another subject for the text's superlative
    ("傅晋华", "劳动对象才是生产力三要素中最活跃的", "人是最活跃的"),
    ("李晓华", "服务业才是科技创新最活跃的产业领域", "制造业是实体经济的核心组成部分"),  # subject carried over (也是…)
    # the text's superlative turned around, about the same subject
    ("李晓华", "制造业是科技创新最不活跃的产业领域", "研发投入最大"),
    ("傅晋华", "人是生产力三要素中最不活跃的", "人是最活跃的"),
    # one thing first, the other after, where the text does both at once
    ("王成仁", "要先狠抓基础研究，之后再搞产业基础再造", "既做好产业基础再造，又狠抓基础研究"),
    ("傅晋华", "先把技术和产品创新搞上去，再由此倒逼原始创新", "以加快原始创新带动技术与产品创新"),  # 以B带动A
    # structural cues the module already read: the opposite modality, others' path
    ("傅晋华", "欠发达地区没有机会实现赶超", "有机会实现赶超"),
    ("李晓华", "我国也要走先污染后治理的路", "西方国家的工业化大都经历了先污染后治理的过程"),
    # the text's own clause with one slot opposed: a scale's other end, another number, a negation on one side
    ("李晓华", "未来产业的行业规模已经很大", "行业规模较小"),
    ("傅晋华", "创新人才占劳动者的比例下降反而能释放创新活力", "比例逐渐上升"),
    ("王成仁", "共性技术要优先导向大型企业", "将共性技术导向中小企业"),
    ("傅晋华", "那段讲话是在中共中央政治局第十二次集体学习时说的", "第十一次集体学习"),
    ("李晓华", "企业之间没什么依赖", "相互高度依赖"),
    # one thing only or one of two, one model for all, a denial of what the text endorses
    ("李晓华", "衡量生产效率只看产出规模", "不仅包括产品或服务的产出规模"),
    ("王成仁", "补短板和锻长板只能二选一", "统筹补短板与锻长板的关系"),
    ("傅晋华", "全国各地采用统一的区域科技创新模式", "各具特色的区域科技创新模式"),
    ("傅晋华", "中西部欠发达地区不能搞基础研究，只能承接现成技术", "持续开展基础研究"),
    # the claim's own words (首要目标, 今后继续) dilute its share of the text: aligned on the words the essays use
    ("王成仁", "产业发展应当以做大市场规模为首要目标", "由注重做大市场规模向注重做强创新原动力转变"),
    ("李晓华", "我国工业今后继续主要依靠初级生产要素的价格优势来提高效率", "过去我国工业的效率主要来自"),
    # the others' path taken as a model, though the claim names the others itself
    ("李晓华", "新型工业化要借鉴西方先污染后治理的路子", "西方国家的工业化大都经历了先污染后治理的过程"),
    # the denied predicate's head in one clause, its other words earlier in the same sentence
    ("傅晋华", "经济欠发达地区不可能在新质生产力上实现赶超", "就有机会实现赶超"),
    # ...or in the clause after the modal one (有机会实现赶超，缩小与经济发达地区的发展差距)
    ("傅晋华", "欠发达地区不可能靠新质生产力追上发达地区", "就有机会实现赶超"),
    # the text's move told in time and reversed (过去靠A，今后转向B against 由B向A转变)
    ("李晓华", "我国工业过去的效率主要靠创新驱动，今后要转向要素驱动", "向以创新驱动发展为主转变"),
    # one thing only, where the text's 既要…又要 runs over three clauses
    ("李晓华", "只强调加大基础研究投入", "又要加强各产业领域的技术创新"),
    # what the text reduces the risk of is what to move away from
    ("李晓华", "要让供应链过长、过于集中", "降低供应链过长、过于集中可能带来的风险"),
    # opposing pairs: against what the text supports, closed vs open, each its own rules vs unified ones,
    # command vs the market, put off vs put first
    ("王静", "反对国内企业去参与战略性新兴产业的国际技术标准制定", "支持优势企业、相关机构参与战略性新兴产业"),
    ("王成仁", "把国内的大科学装置关起门来", "进一步开放国内大科学装置"),
    ("王静", "金融市场最好各地自定规矩、各管一摊", "打造规则统一、监管协同的金融市场"),
    ("王静", "科研成果转化要以政府的行政指令为导向", "以市场为导向的科研成果转化激励机制"),
    # two things kept apart the text relates, and two things filed under each other's category
    ("李晓华", "把未来产业和战略性新兴产业当成毫不相干的两类产业", "未来产业是处于发展早期阶段的战略性新兴产业"),
    ("傅晋华", "把计算机归成新的劳动对象、把大数据归成新的劳动资料", "计算机等新劳动资料"),
    # a turn back from what only the text's goal has (安全) to a point without it, in the asker's words
    ("李晓华", "全球分工正从兼顾效率和安全退回到单纯追求效率", "由效率优先向效率与安全并重转变"),
    # a catching-up verb's negated potential (追不上) against 有机会实现赶超
    ("傅晋华", "经济欠发达地区反正追不上发达地区", "就有机会实现赶超"),
])
def test_contradicted_claims_are_found_with_the_sentence_that_shows_it(author: str, claim: str, shown: str) -> None:
    found = pm.check(claim, whole_essay(author), INDEX)
    assert found is not None and found.status == "contradicted"
    assert found.sentence is not None and shown in found.sentence.text
    assert found.to_dict()["evidence"] == found.sentence.text and found.explanation


def test_a_heading_opposed_is_shown_with_the_sentence_of_its_paragraph_that_holds_more_of_the_claim() -> None:
    e = essay_of("李晓华")
    start = e.text.index("二是推进数智化转型")
    end = e.text.index("三是深化开放合作")
    chunk = Chunk(f"{e.id}-p", e.text[start:end], e.id, e.title, e.author, e.affiliation, "", 0, 0, 0, start, end, "seed")
    found = pm.check("推进数智化转型用不着大企业带头，让中小企业自己摸索就行", [Hit(chunk=chunk, score=1.0, rank=1)], INDEX)
    assert found is not None and found.sentence is not None and found.sentence.text == "二是推进数智化转型。"
    assert any("以推动大企业数字化转型" in s.text for s in found.shown)


def test_one_thing_alone_against_a_heading_that_takes_it_with_others_shows_what_the_heading_means() -> None:
    found = pm.check("打造产业创新生态体系光靠科技创新一项就够了，其他要素不用管", whole_essay("王静"), INDEX)
    assert found is not None and found.sentence is not None
    assert found.sentence.text == "注重要素协同，打造产业创新生态体系。"
    assert "光靠科技创新一项就够了" in found.explanation
    assert [s.text for s in found.shown][1:] == ["实现实体经济、科技创新、现代金融、人力资源协同发展。"]


def test_a_path_given_to_others_is_quoted_with_the_authors_own_stance() -> None:
    found = pm.check("我国的工业化也要先污染后治理", whole_essay("李晓华"), INDEX)
    assert found is not None
    assert [s.text[:6] for s in found.shown] == ["西方国家的工", "在此背景下，"]


@pytest.mark.parametrize(("author", "claim"), [
    ("李晓华", "要走降低资源能源消耗的绿色工业化道路"),  # a cut the text itself asks for
    ("李晓华", "跨国公司要降低供应链过长带来的风险"),  # an increase elsewhere in the text is about something else
    ("李晓华", "企业要降低成本、提高效率"),
    ("王静", "不能放松对中小金融机构的监管"),  # a negated cue agrees with 严格
    ("李晓华", "不应削减基础研究投入"),
    ("李晓华", "传统产业不是要淘汰而是要转型升级"),
    ("王成仁", "产业发展要由注重做大市场规模向注重做强创新原动力转变"),  # the text's own direction
    ("李晓华", "全球分工正由效率优先向效率与安全并重转变"),
    ("傅晋华", "人是生产力三要素中最活跃的"),  # the text's own superlative
    ("李晓华", "制造业是科技创新最活跃的产业领域"),
    ("傅晋华", "人才是最活跃的"),  # 人才是 read as 人 + 才是: the same subject
    ("傅晋华", "欠发达地区有机会实现赶超"),
    ("李晓华", "产业韧性很重要"),
    ("王静", "要建立健全产业安全预测预警系统"),
    ("傅晋华", "要搭建各类科技创新平台载体"),
    ("傅晋华", "创新人才的劳动技能普遍高于一般劳动者"),
    ("王成仁", "既要做好产业基础再造又要狠抓基础研究"),
    ("李晓华", "西方国家的工业化是先污染后治理"),  # the text's own order
    ("傅晋华", "先加快原始创新，再带动技术与产品创新"),
    # the same frames as the slot contrasts above, with the text's own slot
    ("李晓华", "未来产业的行业规模还比较小"),
    ("傅晋华", "创新人才的比例上升会释放更大的创新活力"),
    ("王成仁", "要把共性技术导向中小企业"),
    ("傅晋华", "那段讲话是在中共中央政治局第十一次集体学习时说的"),
    ("李晓华", "企业之间相互依赖"),
    ("李晓华", "衡量生产效率不仅看产出规模也看功能和质量"),
    ("傅晋华", "要因地制宜形成各具特色的区域科技创新模式"),
    ("王静", "要以智能制造为重点推动企业和行业数字化转型"),
    ("李晓华", "工业和服务业的高质量发展谁也离不开谁"),  # the text's 如果没有… supposes, it states no negation
    ("李晓华", "工业质量上不去，服务业也很难升级"),  # an unmarked condition (X，Y也…) asserts nothing
    ("李晓华", "现在的全球分工不再只讲效率优先了"),  # the text itself moves away from 效率优先
    ("李晓华", "我国不能借鉴西方先污染后治理的路子"),  # the claim itself refuses the others' path
    ("傅晋华", "区域科技创新平台载体对形成新质生产力必不可少"),  # a negated idiom that affirms
    ("李晓华", "新型工业化的高质量不能只盯着工业部门本身"),  # 不能只: "not only", no denial
    ("李晓华", "过去我国工业的效率主要靠要素价格优势，今后要转向创新驱动"),  # the text's own move, told in time
    ("王静", "支持国内企业参与战略性新兴产业的国际技术标准制定"),
    ("王成仁", "要进一步开放国内大科学装置"),
    ("王静", "要打造规则统一的金融市场"),
    ("李晓华", "未来产业和战略性新兴产业密切相关"),
    ("傅晋华", "把计算机归成新的劳动资料、把大数据归成新的劳动对象"),  # the text's own filing
    ("李晓华", "全球分工开始从只讲效率转向兼顾安全"),  # leaving the one-sided view is the text's own move
])
def test_claims_the_text_supports_are_not_contradicted(author: str, claim: str) -> None:
    assert pm.check(claim, whole_essay(author), INDEX) is None


@pytest.mark.parametrize(("question", "stated"), [
    ("李晓华说增强发展动能只有两项举措，是哪两项？", "两项举措"),
    ("王静提出了提升产业体系现代化水平的五个主攻方向，是哪五个？", "五个主攻方向"),
    ("王静说主攻方向共有四个，分别是什么？", "方向共有四个"),  # the count after its noun
])
def test_a_wrong_count_of_list_items_is_corrected_with_the_real_items(question: str, stated: str) -> None:
    author = next(e.author for e in ESSAYS if e.author in question)
    found = facts.check_count(question, whole_essay(author), INDEX)
    assert found is not None and found.claim == stated
    assert "有三" in found.explanation and found.sentence is not None
    assert found.shown and all(item.text in "".join(s.text for s in found.shown)
                               for item in found.shown[1:])  # the real list is what the answer quotes


def test_a_year_is_checked_in_the_clause_that_states_it() -> None:
    question = "听说党的二十大报告把基本实现新型工业化定在2030年，李晓华文章里也是这么写的吗？"
    found = facts.check_year(question, whole_essay("李晓华"), INDEX.essays and "".join(e.text for e in ESSAYS), INDEX)
    assert found is not None and "2035" in found.explanation


@pytest.mark.parametrize("n", ["三", "四"])
def test_a_wrong_count_of_what_the_best_sentence_enumerates_names_each(n: str) -> None:
    found = facts.check_count(f"王成仁说在实践中需要统筹{n}个关系，是哪{n}个？", whole_essay("王成仁"), INDEX)
    assert found is not None and "关系有五个" in found.explanation and "统筹自主创新与开放合作的关系" in found.explanation


@pytest.mark.parametrize("question", [
    "李晓华说增强发展动能有三项举措，分别是什么？",
    "新型工业化高质量发展有哪五个特征？",
    "王成仁说推动产业基础高级化需要统筹五个关系，是哪五个？",  # the essay's five 统筹…的关系
])
def test_a_right_count_is_not_corrected(question: str) -> None:
    author = next((e.author for e in ESSAYS if e.author in question), "李晓华")
    assert facts.check_count(question, whole_essay(author), INDEX) is None


def test_a_claim_given_to_the_wrong_author_names_the_essay_that_holds_it() -> None:
    found = facts.check_attribution("要打造现代金融机构和市场体系", "李晓华", INDEX)
    assert found is not None and found.sentence is not None
    assert essay_of("王静").id == found.sentence.essay_id and "王静" in found.explanation
    assert facts.check_attribution("要打造现代金融机构和市场体系", "王静", INDEX) is None


def test_a_claim_several_essays_share_is_nobody_elses() -> None:
    assert facts.check_attribution("要推进数字化转型", "李晓华", INDEX) is None


def _meaning_on(author: str, fragment: str) -> dict[tuple[str, int], float]:
    """Meaning scores that put one sentence of the author's essay first (what cross-lingual retrieval gives)."""
    e = essay_of(author)
    return {(s.essay_id, s.start): 1.0 for s in INDEX.sentences[e.id] if fragment in s.text}


@pytest.mark.parametrize(("claim", "contradicted"), [
    ("the industrial security early-warning system should be abolished", True),
    ("the industrial security early-warning system is unnecessary", True),
    ("an industrial security early-warning system should be built", False),  # the text's own stance
    ("the early-warning system should not be abolished", False),  # a negated cue agrees with the text
])
def test_an_english_claim_is_checked_against_the_chinese_sentence_it_matches(claim: str, contradicted: bool) -> None:
    meaning = _meaning_on("王静", "建立健全产业安全预测预警系统")
    found = pm.check_english(claim, whole_essay("王静"), INDEX, meaning)
    assert (found is not None) == contradicted
    if found is not None:
        assert found.sentence is not None and "建立健全产业安全预测预警系统" in found.sentence.text
