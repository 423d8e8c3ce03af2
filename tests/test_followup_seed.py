# ruff: noqa: F811  (pytest fixtures imported from retrieval_fixtures are redefined as parameters)
"""Follow-ups on the seed essays, against histories the product itself produced (every earlier answer is the
offline assistant's own): ordinals on the list just shown, pronouns, 那……呢 and 还说了什么."""

from __future__ import annotations

import re

import pytest

from rag import citations as cit
from rag.answer import Assistant
from rag.config import Settings
from rag.planner import list_nouns
from rag.retrieve import Retriever
from rag.types import Answer, Turn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def offline(seed_retriever: Retriever, seed_settings: Settings) -> Assistant:
    return Assistant(seed_retriever, None, seed_settings)


def converse(assistant: Assistant, turns: list[str]) -> list[Answer]:
    """Play the user turns; each answer the assistant gives becomes the history of the next turn."""
    history: list[Turn] = []
    answers = []
    for q in turns:
        answer = assistant.ask(q, history=history)
        answers.append(answer)
        history += [Turn("user", q), Turn("assistant", answer.answer)]
    return answers


def cited_authors(answer: Answer) -> set[str]:
    return {c.chunk.author.replace(" ", "") for c in answer.citations}


def quoted(answer: Answer) -> list[str]:
    """The sentences an answer quotes, markers and the attribution removed."""
    body = cit.strip_markers(answer.answer)
    body = re.sub(r"^.*?(指出|提出)：", "", body, flags=re.S)
    return [s for s in re.split(r"[。\n]", body) if len(s) > 8]


def test_the_noun_a_list_question_counts() -> None:
    assert "转变" in list_nouns("推动产业基础高级化要完成哪些转变？")
    assert "关系" in list_nouns("在实践中要统筹好哪些关系？")
    assert "方向" in list_nouns("提升产业体系现代化水平的主攻方向有哪些？")


def test_a_list_question_gets_the_list_whose_items_name_what_it_counts(offline: Assistant) -> None:
    first, second = converse(offline, ["推动产业基础高级化要完成哪些转变？", "其中第三个转变是什么意思？"])
    items = [ln for ln in first.answer.splitlines() if re.match(r"\d\. ", ln)]
    assert len(items) == 4 and all("转变" in ln for ln in items)  # not the five 举措 of the same essay
    assert "注重做大市场规模" in second.standalone_question
    assert "做强创新原动力" in second.answer and cited_authors(second) == {"王成仁"}


@pytest.mark.parametrize(("turns", "item", "how"), [
    (["傅晋华认为形成区域科技创新模式要做哪几件事？", "第二件具体怎么做？"], "加快区域产业创新步伐",
     "谋划布局一批产业集群"),
    (["王成仁提出了哪些举措强化企业科技创新主体地位？", "最后一项具体怎么做？"], "推进开放合作创新",
     "强化引进消化吸收"),
])
def test_how_to_carry_out_an_item_quotes_what_the_item_says_to_do(offline: Assistant, turns: list[str], item: str,
                                                                   how: str) -> None:
    answer = converse(offline, turns)[-1]
    assert item in answer.standalone_question
    assert how in answer.answer and not answer.refused and answer.citations


def test_besides_x_what_else_leaves_x_out(offline: Assistant) -> None:
    first, more = converse(offline, ["傅晋华怎么看培育新质生产力对区域经济的意义？", "除了推动区域协调发展，他还讲了什么？"])
    assert "体制机制改革" in first.answer and "区域协调发展" in first.answer  # both sides of 一方面……另一方面
    assert "体制机制改革" in more.answer and "区域协调发展" not in more.answer
    assert cited_authors(more) == {"傅晋华"}


def test_what_else_does_not_repeat_what_was_shown(offline: Assistant) -> None:
    first, more = converse(offline, ["傅晋华认为如何整合区域科创资源？", "他还说了什么？"])
    assert not more.refused and cited_authors(more) == {"傅晋华"}
    shown = set(quoted(first))
    assert quoted(more) and not shown & set(quoted(more))


def test_a_pronoun_resolves_to_the_author_of_the_previous_turn(offline: Assistant) -> None:
    answer = converse(offline, ["《把握高质量发展要求推进新型工业化》的作者是谁？", "他怎么看生态环境保护？"])[-1]
    assert "李晓华" in answer.standalone_question and not answer.refused
    assert cited_authors(answer) == {"李晓华"} and "绿色发展" in answer.answer


def test_na_author_ne_replaces_the_author_and_keeps_the_topic(offline: Assistant) -> None:
    answer = converse(offline, ["李晓华怎么看开放合作？", "那王成仁呢？"])[-1]
    assert "王成仁" in answer.standalone_question and "开放合作" in answer.standalone_question
    assert cited_authors(answer) == {"王成仁"} and "开放合作" in answer.answer


def test_a_list_asked_of_a_named_author_is_answered_and_its_items_addressed(offline: Assistant) -> None:
    first, second = converse(offline, ["王静认为全面提升产业体系现代化水平要抓哪几个主攻方向？", "第二个方向具体怎么做？"])
    assert not first.refused and sum(bool(re.match(r"\d\. ", ln)) for ln in first.answer.splitlines()) == 3
    assert "以数字化为牵引" in second.standalone_question
    assert "智能制造" in second.answer and cited_authors(second) == {"王静"}


def test_na_with_its_own_author_and_topic_is_asked_plainly(offline: Assistant) -> None:
    answer = converse(offline, ["王静怎么看开放合作？", "那王成仁对人才又是怎么说的呢？"])[-1]
    assert answer.standalone_question == "王成仁对人才是怎么说的？"
    assert not answer.refused and cited_authors(answer) == {"王成仁"} and "高层次" in answer.answer


def test_a_second_ordinal_still_addresses_the_list_not_an_enumeration_inside_an_item(offline: Assistant) -> None:
    answers = converse(offline, ["李晓华认为如何增强发展动能？", "其中第二条呢？", "第三条呢？"])
    assert "推进数智化转型" in answers[1].standalone_question
    assert "深化开放合作" in answers[2].standalone_question and "开放合作" in answers[2].answer


def test_what_else_after_part_of_a_passage_continues_that_passage_by_the_same_author(offline: Assistant) -> None:
    first, more = converse(offline, ["什么是产业韧性？", "作者还提到了什么？"])
    assert cited_authors(first) == {"李晓华"} and cited_authors(more) == {"李晓华"}
    assert "全球价值链分工" in more.answer  # the rest of the paragraph on 产业韧性
    assert not set(quoted(first)) & set(quoted(more))


def test_an_ordinal_after_a_summary_addresses_its_section(offline: Assistant) -> None:
    first, second = converse(offline, ["傅晋华的文章主要讲什么？", "第三部分具体讲了什么？"])
    line = next(ln for ln in first.answer.splitlines() if ln.startswith("3. "))
    title = re.sub(r"^3\. ", "", line).split("：")[0]
    assert f"“{title}”" in second.standalone_question
    assert not second.refused and cited_authors(second) == {"傅晋华"}


@pytest.mark.parametrize(("turns", "item", "said"), [
    # the answer quotes several enumerations; the ordinal counts the one whose items hold what it names (the third
    # “全” is taken up by a paragraph of its own, which says what it means without repeating its name)
    (["按李晓华的说法，新型工业化的高质量发展要体现在哪几个“全”上？", "第三个“全”具体是什么意思？"], "生产活动全周期",
     "企业具体微观活动"),
    (["王成仁认为推动产业基础高级化，首要的是做什么？", "最后一个转变指的是什么？"], "产业体系由价值链中低端向高端转变",
     "产业体系由价值链中低端向高端转变"),
])
def test_an_ordinal_that_names_what_it_counts_takes_that_list(offline: Assistant, turns: list[str], item: str,
                                                               said: str) -> None:
    answers = converse(offline, turns)
    assert item in answers[-1].standalone_question and said in answers[-1].answer


def test_a_pair_of_a_list_of_relations_is_counted_too(offline: Assistant) -> None:
    *_, second = converse(offline, ["王成仁认为推进产业基础高级化，实践中要处理好哪些关系？", "第一对关系该怎么理解？"])
    assert not second.refused and "产业基础再造" in second.answer


def test_this_kind_of_thing_is_the_kind_just_asked_about(offline: Assistant) -> None:
    *_, second = converse(offline, ["王静对战略性新兴产业是怎么说的？", "那李晓华对这类产业又是怎么看的？"])
    assert "战略性新兴产业" in second.standalone_question and cited_authors(second) == {"李晓华"}
    assert "换道超车" in second.answer


def test_a_bare_request_after_a_pronoun_carries_the_topic(offline: Assistant) -> None:
    first, second = converse(offline, ["傅晋华觉得一个地区要形成和发展新质生产力，关键在哪儿？", "那他具体提了哪几点做法？"])
    assert not first.refused and not second.refused
    assert "傅晋华" in second.standalone_question and "新质生产力" in second.standalone_question


def test_a_conversation_opened_by_the_authors_institution(offline: Assistant) -> None:
    first, second, third = converse(offline, ["西北政法大学那位教授写的是哪篇文章？", "她在推动产业开放发展上提了哪些做法？",
                                              "其中跟“一带一路”有关的那条具体是怎么说的？"])
    assert "王静" in first.answer and "全面提升产业体系现代化水平" in first.answer
    assert cited_authors(second) == {"王静"} and not third.refused and "横向分工区域化集聚" in third.answer


def test_an_inline_list_is_answered_item_by_item_and_besides_leaves_the_named_one_out(offline: Assistant) -> None:
    first, besides = converse(offline, ["傅晋华说创新能力强的地区能从哪些方面为新质生产力打基础？", "除了创新人才，他还讲了哪些？"])
    # the enumeration (创新人才、创新平台载体、创新生态环境等方面) and the sentence that takes up each item
    assert "创新人才、创新平台载体、创新生态环境" in first.answer
    assert "创新人才是劳动者中最具创新活力的群体" in first.answer and "区域创新生态环境的改善" in first.answer
    # the follow-up: the other two items, not the one it names
    assert "区域科技创新平台载体" in besides.answer and "区域创新生态环境的改善" in besides.answer
    assert "创新人才是劳动者" not in besides.answer


def test_an_inline_item_followed_up_is_answered_by_the_sentences_that_take_it_up(offline: Assistant) -> None:
    *_, last = converse(offline, ["傅晋华那篇文章主要在讲什么？", "他说创新能力强的地区能从哪几个方面给新质生产力打基础？",
                                  "第二个方面为什么这么关键？"])
    assert not last.premise  # 创新平台载体 is in 傅晋华's essay too: nothing misattributed
    assert "物质基础" in last.answer and "计算机" in last.answer and cited_authors(last) == {"傅晋华"}


def test_who_wrote_on_a_topic_puts_that_author_first_and_he_means_them(offline: Assistant) -> None:
    who, benefit, besides = converse(offline, ["这几篇文章里是谁专门写了新质生产力和区域发展？",
                                               "他说这对经济欠发达地区有什么好处？", "除了这个，还说了什么别的意义？"])
    assert not who.refused and who.answer.splitlines()[1].startswith("- 傅晋华")
    assert cited_authors(benefit) == {"傅晋华"} and "一方面" in benefit.answer
    assert "另一方面" in besides.answer and "体制机制改革" in besides.answer  # the pair's other item


def test_a_request_for_the_detail_of_an_item_quotes_its_whole_run(offline: Assistant) -> None:
    _, detail = converse(offline, ["李晓华说高质量的新型工业化在产业体系上会表现出哪些特征？", "其中第三个特征具体指什么？"])
    assert detail.answer.count("[") >= 4 and "增加值率" in detail.answer


def test_a_counted_list_of_a_named_author_is_that_essays_list_of_as_many_items(offline: Assistant) -> None:
    listed, third = converse(offline, ["傅晋华文章后半部分给地区提了哪三条做法？", "第三条里头关于人才他是怎么说的？"])
    assert not listed.refused  # 后半部分 points into the text; it is no topic word the passages lack
    assert all(f"{n}是" in listed.answer for n in "一二三")
    assert "第一资源" in third.answer and cited_authors(third) == {"傅晋华"}


@pytest.mark.parametrize("turns", [
    ["李晓华怎么看制造业的技术水平？", "总的来说这篇文章讲了啥"],
    ["王静说人才方面要怎么做", "这篇文章总体讲了什么，能概括一下吗"],
])
def test_a_summary_of_the_essay_just_discussed_in_everyday_words(offline: Assistant, turns: list[str]) -> None:
    first, summary = converse(offline, turns)
    assert not summary.refused and "按章节概括如下" in summary.answer
    assert cited_authors(summary) == cited_authors(first)


def test_short_more_requests_continue_the_last_answer(offline: Assistant) -> None:
    benefit, more = converse(offline, ["按傅晋华的说法，培育新质生产力对欠发达地区有啥好处？", "除此之外还有别的意义吗？"])
    assert "一方面" in benefit.answer and not more.refused and "另一方面" in more.answer
    *_, last = converse(offline, ["傅晋华提的整合区域科创资源是怎么回事？", "平台体系具体怎么建", "还有呢"])
    assert not last.refused and "第一资源" in last.answer and cited_authors(last) == {"傅晋华"}


def test_a_bare_why_or_how_is_asked_of_the_last_question(offline: Assistant) -> None:
    _, why = converse(offline, ["产业韧性强是什么意思？", "为什么现在这么强调这个？"])
    assert "产业韧性" in why.standalone_question and "效率与安全并重" in why.answer
    _, how = converse(offline, ["李晓华觉得咱们传统产业现在有什么毛病？", "具体要怎么做才能改过来？"])
    assert "传统产业" in how.standalone_question and "中高端产品" in how.answer


def test_a_request_for_an_example_is_asked_of_the_last_question(offline: Assistant) -> None:
    _, example = converse(offline, ["傅晋华说数智时代的劳动资料和劳动对象出现了什么变化？", "能举个例子吗？"])
    assert "劳动资料" in example.standalone_question and not example.refused
    assert "计算机" in example.answer and cited_authors(example) == {"傅晋华"}


def test_why_of_an_inline_item_quotes_the_paragraph_that_takes_it_up(offline: Assistant) -> None:
    # 工业化全过程 also occurs in the essay's opening sentence; the list that takes it up is the one asked about
    _, why = converse(offline, ["李晓华说新型工业化的高质量发展体现在哪几个“全”上？", "第一个为什么这么说？"])
    assert "结构转变的过程" in why.answer and cited_authors(why) == {"李晓华"}


def test_an_ordinal_on_an_inline_list_after_cong_names_the_item_alone(offline: Assistant) -> None:
    _, first = converse(offline, ["傅晋华说创新能力强的地区可以从哪些方面为新质生产力提供基础？", "第一个为什么重要？"])
    assert "“创新人才”" in first.standalone_question and "最具创新活力" in first.answer


def test_the_other_authors_are_asked_the_same_question(offline: Assistant) -> None:
    first, others = converse(offline, ["王成仁讲的推进开放合作创新包括哪些内容", "那另外几位怎么看开放合作这个问题？"])
    assert cited_authors(first) == {"王成仁"}
    assert {"李晓华", "王静", "傅晋华"} <= cited_authors(others) and "王成仁" not in others.standalone_question


def test_a_new_question_in_everyday_words_is_no_bare_follow_up(offline: Assistant) -> None:
    _, new = converse(offline, ["产业韧性强是什么意思？", "公司开门做生意，说到底图的是什么？"])
    assert new.standalone_question == "公司开门做生意，说到底图的是什么？"


def test_a_list_question_about_the_whole_essay_gets_its_sections_and_the_ordinal_follows_them(
        offline: Assistant) -> None:
    first, second = converse(offline, ["王静的文章提出了哪几点主张？", "第二点具体怎么说？"])
    lines = [ln for ln in first.answer.splitlines() if ln[:2] in ("1.", "2.", "3.")]
    assert [ln[3:8] for ln in lines] == ["注重要素协", "以数字化为", "强化安全协"]  # the essay's own three points
    assert "数字化" in second.standalone_question and "数字化是全球经济转型的大势所趋" in second.answer


def test_inline_items_taken_up_one_paragraph_each_are_listed_and_followed(offline: Assistant) -> None:
    first, second = converse(offline, ["李晓华讲新型工业化的高质量发展体现在哪些地方？", "其中第二个怎么理解？"])
    assert "工业化全过程、产业体系全领域和生产活动全周期" in first.answer
    assert "工业化不仅是工业部门的发展" in first.answer  # the paragraph that takes up the second item
    assert "产业体系全领域" in second.standalone_question
    assert "工业化不仅是工业部门的发展" in second.answer and "工业化是一种过程" not in second.answer


def test_a_topic_inside_a_named_item_is_answered_first_and_the_rest_of_the_item_after(offline: Assistant) -> None:
    first, second = converse(offline, ["李晓华讲推进数智化转型时，对大企业提了什么要求？", "这一条里还说了什么？"])
    assert "以推动大企业数字化转型" in first.answer and "完善数字基础设施" not in first.answer
    assert "完善数字基础设施" in second.answer and "以推动大企业数字化转型" not in second.answer


def test_a_bare_why_asks_about_the_statement_that_answered_and_gets_how_it_comes_about(offline: Assistant) -> None:
    first, second = converse(offline, ["科技创新在发展新质生产力中处于什么位置？", "凭什么这么讲？"])
    assert "核心要素" in first.answer
    assert "为什么说" in second.standalone_question and "核心要素" in second.standalone_question
    assert "通过技术革命性突破" in second.answer  # how the claim comes about, from another passage


def test_the_same_question_put_to_another_author_in_other_words(offline: Assistant) -> None:
    _first, second = converse(offline, ["王成仁对创新平台载体建设有什么建议？", "那傅晋华又是怎么讲的？"])
    assert second.standalone_question.startswith("傅晋华") and "创新平台载体" in second.standalone_question
    assert not second.refused and cited_authors(second) == {"傅晋华"}


def test_an_ordinal_on_parallel_clauses_ending_alike_names_that_clause(offline: Assistant) -> None:
    first, second = converse(offline, ["王成仁说推进思路上要有哪几个转变？", "其中第三个转变是从什么转向什么？"])
    assert not first.refused and "产业发展由注重做大市场规模" in second.standalone_question
    assert "做强创新原动力" in second.answer and cited_authors(second) == {"王成仁"}


def test_na_x_ne_asks_the_same_question_of_x_in_place_of_the_subject(offline: Assistant) -> None:
    _first, second = converse(offline, ["王成仁说大型企业在共性技术上要承担什么任务？", "那高校的老师、学生和科研人员呢？"])
    assert second.standalone_question.startswith("王成仁说高校的老师、学生和科研人员在共性技术上")
    assert not second.refused and "高校师生" in second.answer
    # a word of the subject in the new words narrows it: left to the other rules
    _first, narrowed = converse(offline, ["傅晋华认为哪些产业是形成新质生产力的重要载体？", "那未来产业方面呢？"])
    assert "新质生产力" not in narrowed.standalone_question.replace("未来产业方面", "")


def test_na_x_ne_after_an_item_heading_defines_that_item_by_its_whole_run(offline: Assistant) -> None:
    _first, second = converse(offline, ["李晓华说的经济效益好指什么？", "那生态破坏少呢？"])
    assert "生态破坏少" in second.standalone_question
    assert "先污染后治理" in second.answer and "绿色工业化道路" in second.answer


def test_a_question_naming_its_author_with_zhe_pian_needs_no_context(offline: Assistant) -> None:
    answer = offline.ask("王成仁这篇主要写的是什么？")
    assert not answer.refused and "按章节概括" in answer.answer


@pytest.mark.parametrize(("second", "item"), [
    ("头一个转变具体是从什么变成什么？", "拼盘式、补丁式集成"),
    ("倒数第二个呢？", "注重做大市场规模"),
    ("最末一条是什么意思？", "价值链中低端向高端"),
])
def test_spoken_ordinals_count_the_list_just_shown(offline: Assistant, second: str, item: str) -> None:
    first, answer = converse(offline, ["王成仁认为推动产业基础高级化，在推进思路上要实现哪些转变？", second])
    assert len([ln for ln in first.answer.splitlines() if re.match(r"\d\. ", ln)]) == 4
    assert item in answer.standalone_question and not answer.refused and cited_authors(answer) == {"王成仁"}


def test_a_follow_up_asking_which_place_no_passage_names_is_refused(offline: Assistant) -> None:
    first, second = converse(offline, ["傅晋华列举了哪些未来产业领域？", "其中氢能与储能这一块，他认为哪个省份最有优势？"])
    assert not first.refused and "氢能与储能" in first.answer
    assert second.refused and not second.citations


def test_why_of_an_item_quotes_its_run_not_the_restated_claim(offline: Assistant) -> None:
    _first, second = converse(offline, ["李晓华说新型工业化质量高，最突出地体现在哪一点上？", "为什么这么说？"])
    assert "科学技术是第一生产力" in second.answer and "产业国际竞争力就强" in second.answer


def test_a_list_asked_in_another_word_for_its_noun_is_the_list_that_noun_names(offline: Assistant) -> None:
    first, second = converse(offline, ["李晓华认为新型工业化走向高质量，会体现出哪些特点？", "最后一个特点讲的是什么？"])
    assert "等特征" in first.answer and "生态破坏少" in second.standalone_question  # 特点 asked, 特征 in the text


def test_he_why_asks_why_of_the_statement_just_shown(offline: Assistant) -> None:
    # rewritten before as 傅晋华就哪一个最活跃为什么这么说: the last question's wording, not the answer's statement
    last = converse(offline, ["傅晋华说生产力三要素里哪一个最活跃？", "他为什么这么说？"])[-1]
    assert last.standalone_question.startswith("傅晋华为什么说") and "人是最活跃的" in last.standalone_question


def test_the_author_just_discussed_is_named_in_a_comparison_with_them(offline: Assistant) -> None:
    last = converse(offline, ["王静怎么看产业安全？", "李晓华讲产业韧性，和刚才那位作者的说法有什么不同？"])[-1]
    assert "王静" in last.standalone_question and cited_authors(last) == {"李晓华", "王静"}


def test_the_same_question_put_to_another_author_by_switching(offline: Assistant) -> None:
    last = converse(offline, ["李晓华怎么看深化开放合作？", "换成王静会怎么说？"])[-1]
    assert last.standalone_question == "王静怎么看深化开放合作？" and cited_authors(last) == {"王静"}


def test_a_question_opening_with_specifically_follows_up_on_the_essay_just_discussed(offline: Assistant) -> None:
    answers = converse(offline, ["王成仁说推动产业基础高级化首要的是什么？", "具体要实现哪几个转变？"])
    assert answers[-1].standalone_question.startswith("王成仁") and cited_authors(answers[-1]) == {"王成仁"}


def test_what_comes_next_quotes_the_sentence_after_the_last_answer(offline: Assistant) -> None:
    first, then = converse(offline, ["到2035年要基本实现什么？", "接下来呢？"])
    assert "2035年基本实现新型工业化" in cit.strip_markers(first.answer)
    body = cit.strip_markers(then.answer)
    assert "此后仍要继续向全面实现新型工业化推进" in body
    assert "2035年" not in body and "工业化不仅是工业部门的发展" not in body  # not the last answer, not the next paragraph


def test_an_item_named_by_its_words_is_answered_like_its_ordinal(offline: Assistant) -> None:
    first, named = converse(offline, ["李晓华说新型工业化的高质量发展要体现在哪几个“全”上？", "展开说说产业体系全领域这一点。"])
    assert "产业体系全领域" in cit.strip_markers(first.answer)
    _first, ordinal = converse(offline, ["李晓华说新型工业化的高质量发展要体现在哪几个“全”上？", "其中第二个具体是怎么论述的？"])
    body = cit.strip_markers(named.answer)
    assert "投入产出关系" in body  # what the item says, not the sentence naming the three again
    assert named.standalone_question == ordinal.standalone_question


def test_a_follow_up_naming_no_single_item_is_not_an_item_question(offline: Assistant) -> None:
    _first, then = converse(offline, ["王成仁认为在实践中要统筹好哪几对关系？", "这几对关系里哪一对最重要？"])
    assert "“" not in then.standalone_question  # no item chosen: the words name none of the five
