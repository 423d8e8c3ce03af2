"""The coverage gate's term classes: which words of a question are names, hard terms or paraphrase words."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.evidence import _TEXT_PART, NAME_RELEVANCE, RELEVANCE_SURE, EvidenceModel, _asks_quantity
from rag.types import Chunk, Essay, Hit, Section

TEXT = ("经济欠发达地区如能立足自身发展条件，就有机会实现赶超。几乎没有企业能够独自完成产品从设计到消费的全过程。"
        "要攻克高端芯片等关键核心技术，推动产业基础高级化。")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> EvidenceModel:
    essay = Essay("e1", "创新驱动产业基础高级化", "王成仁", "", "seed", (Section("引言", (TEXT,)),))
    return EvidenceModel([essay], cache_dir=Path(tmp_path_factory.mktemp("segmenter")))


def hits() -> list[Hit]:
    chunk = Chunk("c1", TEXT, "e1", "创新驱动产业基础高级化", "王成仁", "", "引言", 0, 0, 0, 0, len(TEXT), "seed")
    return [Hit(chunk=chunk, score=1.0)]


def test_a_company_the_dictionary_knows_as_a_proper_noun_refuses_at_any_relevance(model: EvidenceModel) -> None:
    question = "王成仁怎么评价华为在高端芯片上的突破？"
    cov = model.coverage(question, hits())
    assert cov.names == ("华为",) and cov.proper == ("华为",) and model.unknown(cov) == ("华为",)
    assert not model.covered(1.0, cov, question, hits())


def test_a_word_tagged_as_a_name_but_not_a_proper_noun_refuses_only_below_sure_retrieval(model: EvidenceModel) -> None:
    question = "中小银行在高端芯片上有什么突破？"  # 中小银行 is tagged j (an abbreviation): a name by its tag alone
    cov = model.coverage(question, hits())
    assert cov.names == ("中小银行",) and cov.proper == ()
    assert not model.covered(NAME_RELEVANCE - 0.01, cov, question, hits())
    assert model.covered(NAME_RELEVANCE, cov, question, hits())  # sure retrieval overrules a tagging slip


def test_a_place_the_segmenter_made_of_ordinary_words_is_no_place(model: EvidenceModel) -> None:
    # 什和 (of 家伙什和) was tagged a place and refused on as "the essays never mention 什和"
    cov = model.coverage("干活用的家伙什和对象，高端芯片怎么攻克？", hits())
    assert cov.names == () and cov.absent == ()
    assert "粤港澳" in model.coverage("粤港澳的高端芯片怎么攻克？", hits()).absent  # a place the dictionary holds


def test_a_person_the_segmenter_made_of_ordinary_words_is_no_name(model: EvidenceModel) -> None:
    # 立大 (of 国家立大科研项目) was tagged a person; a name begins with a surname, 立 is none
    assert model.coverage("听说国家立大科研项目都是专家拍板，企业是不是只能等着接活？", hits()).names == ()
    assert "张伟" in model.coverage("张伟怎么评价高端芯片？", hits()).names  # an unknown person stays one


def test_a_proper_name_the_segmenter_split_is_joined_again(model: EvidenceModel) -> None:
    # 工信部 is cut 工信/部; together it is a CC-CEDICT proper noun the essays never use
    cov = model.coverage("工信部认定高端芯片企业的标准是什么？", hits())
    assert "工信部" in cov.proper
    assert model.coverage("高端芯片怎么攻克？", hits()).proper == ()


def test_a_share_said_to_grow_asks_no_figure_but_a_percentage_does() -> None:
    assert not _asks_quantity("一个地方搞研究的能人占比越来越高，会有什么效果？")
    assert _asks_quantity("研发投入强度要提高到百分之几？")


def test_a_detail_asked_beyond_what_an_author_said_is_absent(model: EvidenceModel) -> None:
    assert model.coverage("王成仁提到高端芯片，那光刻胶的国产化该怎么推进？", hits()).absent != ()
    # the detail is the essays' own: nothing absent; a request word (理由) is no detail
    assert model.coverage("王成仁提到高端芯片，那关键核心技术怎么攻克？", hits()).absent == ()
    assert model.coverage("王成仁提出要攻克高端芯片，他的理由是什么？", hits()).absent == ()
    # what an author said granted, then a detail past it (test_answer_seed: whether it was said is asked instead)
    assert model.coverage("王成仁说要弄一套提前报警的系统，产业一出状况该怎么应对？", hits()).absent == ("状况",)


def test_the_effect_of_something_the_essays_never_name_is_absent(model: EvidenceModel) -> None:
    assert model.coverage("房地产市场下行对产业基础高级化有什么影响？", hits()).absent == ("房地产", "市场", "下行")
    # the cause is the essays' own subject: nothing is absent
    assert model.coverage("高端芯片对产业基础高级化有什么作用？", hits()).absent == ()


def test_how_to_strengthen_something_the_essays_never_name_is_absent(model: EvidenceModel) -> None:
    assert "商标" in model.coverage("产业基础高级化中应当怎样加强商标保护？", hits()).absent
    assert model.coverage("产业基础高级化中应当怎样推进高端芯片攻关？", hits()).absent == ()


def test_fitting_something_the_essays_never_name_to_their_topic_is_absent(model: EvidenceModel) -> None:
    assert model.coverage("户籍制度和产业基础高级化应该怎样结合？", hits()).absent != ()
    assert model.coverage("养老金制度该怎样适应产业基础高级化？", hits()).absent != ()
    # the thing fitted is the essays' own, or made of their words (企业设计: 企业, 设计)
    assert model.coverage("高端芯片和产业基础高级化怎样结合？", hits()).absent == ()
    assert model.coverage("企业设计和产业基础高级化怎样结合？", hits()).absent == ()


@pytest.mark.parametrize("question", [
    "粮食安全与产业基础高级化的关系是什么？",
    "通货膨胀在产业基础高级化中的作用是什么？",
    "文章怎么分析通货膨胀对高端芯片的影响？",
])
def test_relating_something_the_essays_never_name_to_their_topic_is_absent(model: EvidenceModel,
                                                                            question: str) -> None:
    assert model.coverage(question, hits()).absent != ()


def test_marked_names_the_essays_never_use_are_absent(model: EvidenceModel) -> None:
    assert model.marked_absent("欧盟碳边境调节机制（碳关税）会带来多大压力？") == ["碳关税"]
    assert model.marked_absent("“十四五”规划的目标是多少？") == ["十四五"]
    assert model.marked_absent("《中国制造2025》怎么说？") == ["中国制造2025"]
    assert model.coverage("“十四五”规划的目标是什么？", hits()).absent == ("十四五",)


def test_quotations_of_the_essays_and_their_titles_are_not_absent(model: EvidenceModel) -> None:
    assert model.marked_absent("《创新驱动产业基础高级化》讲了什么？") == []
    assert model.marked_absent("文章说“推动产业基础高级化”，怎么推动？") == []
    # recalled loosely: most character pairs are the essay's own
    assert model.marked_absent("“攻克高端芯片关键技术”是什么意思？") == []
    # the user's own short form of a phrase the essays use
    assert model.marked_absent("关键核心技术（核心技术攻关）怎么突破？") == []
    assert model.marked_absent("产业基础高级化（高基）怎么推动？") == []


def test_measure_words_without_a_digit_are_not_hard_terms(model: EvidenceModel) -> None:
    for question in ("“推动产业基础高级化”这部分讲的是什么？", "做产业链不能只盯着单个零件，应该换成什么思路？"):
        cov = model.coverage(question, hits())
        assert not cov.absent, question
    assert model.coverage("到2025年研发投入要达到多少？", hits()).absent == ("2025",)
    assert model.coverage("十四五规划的目标是什么？", hits()).absent == ("十四五",)  # a figure in Chinese numerals


def test_a_region_described_by_an_ordinary_word_is_not_a_place_name(model: EvidenceModel) -> None:
    question = "落后地区还有没有希望追上发达地区？"
    cov = model.coverage(question, hits())
    assert not cov.absent and not cov.names
    assert model.covered(RELEVANCE_SURE, cov, question, hits())
    assert model.coverage("广东省培育了哪些产业集群？", hits()).absent == ("广东省",)


def test_a_whole_process_is_not_a_request_for_a_procedure(model: EvidenceModel) -> None:
    question = "为什么几乎没有哪家企业能独自完成一件产品的全流程？"
    assert model.covered(1.0, model.coverage(question, hits()), question, hits())
    procedure = "如何申请高新技术企业认定？"
    assert not model.covered(1.0, model.coverage(procedure, hits()), procedure, hits())


def test_a_common_word_the_segmenter_tags_as_a_person_or_place_is_neither(model: EvidenceModel) -> None:
    for question in ("一个地方怎样才能摆脱靠老一套拉动增长的路子？", "实验室里搞的东西和企业要的对不上号怎么办？",
                     "东西在全世界分头生产，产地扎堆为什么不放心？"):  # 老一套 nr, 东西 ns, 扎堆 ns
        cov = model.coverage(question, hits())
        assert not cov.absent and not cov.names, question
    assert model.coverage("北京的高端芯片企业有哪些？", hits()).absent == ("北京",)  # a place stays one
    assert model.coverage("张伟怎么看高端芯片？", hits()).names == ("张伟",)  # so does a person


def test_a_quantity_stated_as_changing_is_not_a_figure_asked_for(model: EvidenceModel) -> None:
    question = "一个地区的高端芯片企业比例上升，为什么有利于产业基础高级化？"  # no figure in the passages
    assert model.covered(1.0, model.coverage(question, hits()), question, hits())
    with_de = "为什么高端芯片企业比例的提高很关键？"  # 的 between the quantity and its change
    assert model.covered(1.0, model.coverage(with_de, hits()), with_de, hits())
    asked = "高端芯片企业的比例是多少？"
    assert not model.covered(1.0, model.coverage(asked, hits()), asked, hits())


def test_a_phrase_of_another_essay_is_absent_from_the_selected_one(model: EvidenceModel) -> None:
    other = [Essay("e2", "数字经济", "钱红", "", "seed", (Section("引言", ("数字技术与产业发展深度融合。",)),))]
    question = "攻克高端芯片等关键核心技术有什么意义？"  # the phrase is the other essay's, word for word
    assert "攻克高端芯片等关键核心技术" in model.coverage(question, hits(), scope=other).absent
    own = [Essay("e1", "创新驱动产业基础高级化", "王成仁", "", "seed", (Section("引言", (TEXT,)),))]
    assert "攻克高端芯片等关键核心技术" not in model.coverage(question, hits(), scope=own).absent


def test_a_request_for_suggestions_is_no_topic_word_the_filtered_essay_lacks(model: EvidenceModel) -> None:
    scope = [Essay("e1", "创新驱动产业基础高级化", "王成仁", "", "seed", (Section("引言", (TEXT,)),))]
    question = "这位作者对推动产业基础高级化有什么建议？"  # the essay never uses 建议
    assert model.coverage(question, hits(), scope=scope).absent == ()
    assert "建议" in model.coverage(question, hits(), scope=scope).missing  # still a word the passages must hold


def test_many_words_all_in_the_named_authors_passages_answer_at_any_relevance(model: EvidenceModel) -> None:
    question = "王成仁认为攻克高端芯片关键核心技术，推动产业基础高级化有哪几条？"
    cov = model.coverage(question, hits())
    assert cov.score >= 0.99 and len(cov.terms) >= 4
    assert model.covered(0.01, cov, question, hits(), about_author=True)
    assert not model.covered(0.01, cov, question, hits())  # without the author named, relevance still decides


def test_where_in_the_text_a_question_points_is_no_topic_word() -> None:
    assert _TEXT_PART.sub(" ", "傅晋华文章后半部分给地区提了哪三条做法？") == "傅晋华文章 给地区提了哪三条做法？"
    assert _TEXT_PART.sub(" ", "开头讲了什么，第二部分呢") == " 讲了什么， 呢"


@pytest.mark.parametrize(("question", "name"), [
    ("王成仁怎么看光伏行业的产能过剩问题？", "光伏"),  # an abbreviation (j)
    ("王成仁怎么看DeepSeek这类国产大模型的带动作用？", "DeepSeek"),  # a Latin word
    ("王成仁对秦创原创新驱动平台的建设成效有什么评价？", "秦创原"),  # a name cut as 秦 + 创原
])
def test_judging_a_name_the_essays_never_use_is_absent(model: EvidenceModel, question: str, name: str) -> None:
    cov = model.coverage(question, hits())
    assert name in cov.absent and not model.covered(1.0, cov, question, hits())


@pytest.mark.parametrize(("question", "head"), [
    ("这几位作者对全国碳排放权交易市场扩容持什么看法？", "交易市场"),  # modifiers the essays use (排放, 全国)
    ("傅晋华怎么看低空经济的发展前景？", "低空"),
])
def test_judging_a_topic_the_essays_never_name_is_absent(model: EvidenceModel, question: str, head: str) -> None:
    assert model.judges_unknown(question) == head
    assert not model.covered(1.0, model.coverage(question, hits()), question, hits())


@pytest.mark.parametrize("question", ["王成仁怎么看高端芯片攻关？", "王成仁对欠发达地区实现赶超有什么看法？",
                                      # the asker's own description, pointed back to: no named topic
                                      "那些技术路子还没定的新行当，李晓华怎么看这类行业的分量？"])
def test_judging_what_the_essays_discuss_is_not_absent(model: EvidenceModel, question: str) -> None:
    assert model.judges_unknown(question) == ""


def test_the_askers_introduction_of_themselves_is_no_topic(model: EvidenceModel) -> None:
    question = "我在一家去东南亚建厂的企业上班，想知道怎样攻克高端芯片？"
    assert "东南亚" not in {t.word for t in model.terms(question)}
    assert model.coverage(question, hits()).absent == ()
    # a name in the question itself still counts
    assert "东南亚" in {t.word for t in model.terms("东南亚的企业怎样攻克高端芯片？")}


def test_relying_on_a_few_is_no_count_asked_for(model: EvidenceModel) -> None:
    question = "为什么光靠几家企业做好不够，要推动产业基础高级化？"
    assert model.covered(1.0, model.coverage(question, hits()), question, hits())
    assert not model.covered(1.0, model.coverage("有几家企业攻克了高端芯片？", hits()), "有几家企业攻克了高端芯片？", hits())


def test_an_english_word_in_a_judgment_is_left_to_the_translation(model: EvidenceModel) -> None:
    assert model.judges_unknown("王成仁怎么看talent？") == ""


@pytest.mark.parametrize(("question", "head"), [
    ("王静在引进领军人才及其团队方面，有没有提到个人所得税优惠政策？", "优惠政策"),  # whether Z is mentioned
    ("王成仁认为“链主”企业应该怎么参与全国碳排放权交易市场？", "交易市场"),  # how to take part in Z
])
def test_asking_about_a_thing_the_essays_never_name_is_absent(model: EvidenceModel, question: str, head: str) -> None:
    cov = model.coverage(question, hits())
    assert head in cov.absent and not model.covered(1.0, cov, question, hits())


def test_asking_whether_an_author_mentions_what_the_essays_say_is_not_absent(model: EvidenceModel) -> None:
    question = "王成仁在关键核心技术方面有没有提到高端芯片？"
    assert model.coverage(question, hits()).absent == ()


def test_a_second_how_is_no_thing_to_fit(model: EvidenceModel) -> None:
    # (…怎么应对 reads what precedes as the thing responded to; here it is another how-question)
    assert model.coverage("万一出了断货这种大麻烦，怎么提前发现、出了事又怎么应对？", hits()).absent == ()
    assert model.coverage("养老金制度该怎样适应人口老龄化？", hits()).absent != ()


def test_a_count_the_asker_states_is_no_count_asked_for() -> None:
    assert not _asks_quantity("我们镇上有几家老式纺织厂，成本越涨越高。文章给这类老厂子出了什么主意？")
    assert not _asks_quantity("我们省想建几个国家级的大型科研基地，文章建议以哪几类机构为重点？")
    assert _asks_quantity("我们镇上有老式纺织厂。全国有几家这样的工厂？")


def test_a_label_after_a_demonstrative_is_no_name(model: EvidenceModel) -> None:
    assert model.marked_absent("是不是有那种“几个尊重”的提法？") == []
    assert model.marked_absent("王成仁怎么看“工业母机”的作用？") == ["工业母机"]


def test_what_the_author_says_after_a_granted_topic_is_no_detail_past_it(model: EvidenceModel) -> None:
    said = "王成仁讲到高端芯片，他说那些大公司在货源和供货上怎么调整？"
    assert model.coverage(said, hits()).absent == ()
    assert model.coverage("王成仁讲到高端芯片，那些大公司在货源和供货上怎么调整？", hits()).absent != ()


def test_a_law_or_plan_the_essays_never_name_is_absent_though_made_of_their_words(model: EvidenceModel) -> None:
    assert model.marked_absent("王成仁怎么评价《高端芯片技术进步法》？") == ["高端芯片技术进步法"]


@pytest.mark.parametrize("question", ["王成仁认为高端芯片大概还要几年才能突破？", "攻克高端芯片需要多久？"])
def test_a_duration_asked_needs_a_figure(model: EvidenceModel, question: str) -> None:
    assert not model.covered(1.0, model.coverage(question, hits()), question, hits())
    assert _asks_quantity(question) and not _asks_quantity("为什么说这几年高端芯片风险变大了？")
