# ruff: noqa: F811  (pytest fixtures imported from retrieval_fixtures are redefined as parameters)
"""Summaries on the seed essays: one essay section by section, a topic author by author (offline backend)."""

from __future__ import annotations

import re

import pytest
from answer_checks import assert_grounded, cited_authors
from openai_server import Reply, running_server

from rag import citations as cit
from rag.answer import Assistant
from rag.config import Settings
from rag.llm import OpenAIChatModel
from rag.retrieve import Retriever
from rag.types import Answer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def offline(seed_retriever: Retriever, seed_settings: Settings) -> Assistant:
    return Assistant(seed_retriever, None, seed_settings)


def author_line(answer: Answer, author: str) -> str:
    return next((ln for ln in answer.answer.splitlines() if ln.startswith(f"- {author}《")), "")


@pytest.mark.parametrize(("question", "author"), [
    ("那篇讲区域创新的文章主要讲了什么？", "傅晋华"),  # named by a distinctive part of its title
    ("简单介绍一下谈产业基础高级化的那篇文章", "王成仁"),
    ("王静那篇文章的大意是什么？", "王静"),
    ("帮我概括一下李晓华那篇谈新型工业化的文章", "李晓华"),  # title words describe the essay, not a sub-topic
    ("帮我概括一下李晓华关于新型工业化的那篇文章。", "李晓华"),  # ...introduced by 关于
])
def test_a_whole_essay_is_summarised_by_its_sections(offline: Assistant, question: str, author: str) -> None:
    answer = offline.ask(question)
    essay = next(e for e in offline.essays if e.author == author)
    assert answer.answer.startswith(f"{author}《{essay.title}》按章节概括如下：")
    lines = answer.answer.splitlines()[1:]
    assert [ln.split(".")[0] for ln in lines] == [str(k) for k in range(1, len(essay.sections) + 1)]
    assert all(re.search(r"\[\d+\]", ln) for ln in lines)
    assert cited_authors(answer) == {author}
    assert_grounded(answer)


def test_a_section_with_two_enumerations_keeps_what_introduces_each(offline: Assistant) -> None:
    answer = offline.ask("总结一下李晓华的文章")
    last = answer.answer.splitlines()[4]
    assert last.startswith("4. 明确提质增效着力点：")
    intro = "增强发展动能是实现新型工业化高质量发展的关键因素"
    assert last.index("三是前瞻布局未来产业") < last.index(intro) < last.index("一是全面增强自主创新能力")


def test_a_section_summary_keeps_what_develops_its_central_sentence(offline: Assistant) -> None:
    answer = offline.ask("概括一下王成仁文章的引言。")
    assert "全面系统增强产业基础能力" in answer.answer  # the thesis
    assert "补链、强链、延链、固链、稳链" in answer.answer  # and the sentence after it in its paragraph


def test_a_question_about_a_topic_inside_one_essay_is_not_a_summary(offline: Assistant) -> None:
    plan = offline.planner.plan("李晓华说了哪些新型工业化的特征？")
    assert plan.kind == "qa" and plan.ask == "list"


@pytest.mark.parametrize("question", [
    "几位作者分别怎么谈人才？",
    "各位专家对人才这个话题有什么看法？",  # the words for the authors and their discourse are not the topic
    "哪几篇文章讲到了人才？",
])
def test_a_topic_is_answered_author_by_author_with_the_sentences_about_it(offline: Assistant, question: str) -> None:
    answer = offline.ask(question)
    assert answer.answer.startswith("几位作者的相关论述如下：")
    assert "领军人才" in author_line(answer, "王静")
    assert "第一资源" in author_line(answer, "傅晋华")
    assert "海外高层次人才" in author_line(answer, "王成仁")
    assert "李晓华的文章未专门论及这一话题" in answer.answer
    assert cited_authors(answer) == {"王静", "傅晋华", "王成仁"}
    assert_grounded(answer)


def test_a_topic_sentence_is_shown_under_the_heading_of_its_item(offline: Assistant) -> None:
    answer = offline.ask("各篇文章怎么讲产业链供应链安全？")
    line = author_line(answer, "李晓华")
    assert line.index("产业韧性强") < line.index("产业链供应链安全风险")
    assert "自主可控" in author_line(answer, "王成仁")
    assert_grounded(answer)


def test_a_topic_named_by_words_the_essays_share_in_part_is_found_in_every_essay(offline: Assistant) -> None:
    answer = offline.ask("四篇文章对于对外开放与合作各自是怎么说的？")
    assert cited_authors(answer) == {"李晓华", "王静", "傅晋华", "王成仁"}
    assert "双循环" in author_line(answer, "李晓华") and "开放创新生态" in author_line(answer, "傅晋华")


@pytest.mark.parametrize("question", ["几位作者怎么看个人所得税？", "几位作者对数字货币分别怎么看？"])
def test_a_topic_the_essays_never_mention_is_refused(offline: Assistant, question: str) -> None:
    answer = offline.ask(question)  # 数字货币 is not a question about 数字
    assert answer.refused and not answer.citations


def test_a_paraphrasing_verb_does_not_make_a_topic_uncovered(offline: Assistant) -> None:
    answer = offline.ask("各位作者怎么看待留住人才？")  # 留住 occurs nowhere; 人才 is the topic
    assert not answer.refused and "第一资源" in author_line(answer, "傅晋华")


def test_what_a_comparison_compares_is_no_topic_of_its_own(offline: Assistant) -> None:
    # 着眼点 and 关心 occur nowhere; 数字化 and 产业链供应链的安全 are the topics
    answer = offline.ask("李晓华和王静都讲到了数字化，两人的着眼点有什么异同？")
    assert not answer.refused and cited_authors(answer) == {"李晓华", "王静"}
    answer = offline.ask("王静和王成仁都关心产业链供应链的安全，两人提出的办法有什么不同？")
    assert not answer.refused and cited_authors(answer) == {"王静", "王成仁"}


def test_what_the_essays_are_about_is_an_overview_not_a_topic(offline: Assistant) -> None:
    plan = offline.planner.plan("这几篇文章的主要内容是什么？")
    assert plan.kind == "overview" and len(plan.essays) == 4


@pytest.mark.parametrize("question", ["几位作者分别怎么谈人才？", "几篇文章对基础研究都说了些什么？",
                                      "几位作者对开放合作怎么看？"])
def test_a_model_answering_a_topic_reads_every_passage_the_quoted_answer_cites(
        offline: Assistant, seed_retriever: Retriever, seed_settings: Settings, question: str) -> None:
    lines = [ln.split("》：", 1)[1] for ln in cit.strip_markers(offline.ask(question).answer).splitlines()
             if ln.startswith("- ") and "》：" in ln]
    quoted = [q for ln in lines for q in ln.split("。") if len(q) > 12]
    with running_server() as server:
        server.replies.append(Reply(text="王静主张引进领军人才[1]。"))
        settings = Settings.from_env({"POLICY_QA_HOME": str(seed_settings.home), "OPENAI_BASE_URL": server.base_url,
                                      "OPENAI_API_KEY": "sk-loopback", "POLICY_QA_LLM_TIMEOUT": "2"})
        Assistant(seed_retriever, OpenAIChatModel.from_settings(settings), settings).ask(question)
        prompt = server.chat_requests()[-1].body["messages"][1]["content"]
    assert len(quoted) >= 5 and all(q[:20] in prompt for q in quoted)


def test_a_model_topic_answer_that_leaves_out_an_author_gives_the_quoted_answer(
        offline: Assistant, seed_retriever: Retriever, seed_settings: Settings) -> None:
    question = "几位作者分别怎么谈人才？"
    quoted = offline.ask(question)
    assert len(cited_authors(quoted)) >= 2
    with running_server() as server:
        server.replies.append(Reply(text="王静主张引进领军人才[1]。"))  # one author of those the quotes cover
        settings = Settings.from_env({"POLICY_QA_HOME": str(seed_settings.home), "OPENAI_BASE_URL": server.base_url,
                                      "OPENAI_API_KEY": "sk-loopback", "POLICY_QA_LLM_TIMEOUT": "2"})
        answer = Assistant(seed_retriever, OpenAIChatModel.from_settings(settings), settings).ask(question)
    assert answer.replaced and answer.answer == quoted.answer and "未采用" in answer.notice


@pytest.mark.parametrize(("question", "thesis"), [
    ("傅晋华的文章讲了什么？", "因地制宜形成各具特色的区域科技创新模式"),
    ("概括一下王成仁的文章", "需全面系统增强产业基础能力"),
])
def test_an_essay_summary_states_the_thesis_of_its_introduction(offline: Assistant, question: str,
                                                                thesis: str) -> None:
    intro = offline.ask(question).answer.splitlines()[1]
    assert intro.startswith("1. 引言：") and thesis in intro


@pytest.mark.parametrize(("question", "author", "part", "said"), [
    ("李晓华文章里“明确提质增效着力点”这一部分讲了些什么？帮我概括一下。", "李晓华", "“明确提质增效着力点”部分", "两方面发力"),
    ("王成仁那篇文章开头一段的核心意思是什么？简单概括下。", "王成仁", "开头部分", "全面系统增强产业基础能力"),
])
def test_one_section_is_summarised_on_its_own(offline: Assistant, question: str, author: str, part: str,
                                              said: str) -> None:
    answer = offline.ask(question)
    essay = next(e for e in offline.essays if e.author == author)
    assert answer.answer.startswith(f"{author}《{essay.title}》的{part}：") and said in answer.answer
    assert cited_authors(answer) == {author}
    assert_grounded(answer)


def test_a_topic_inside_a_section_is_answered_not_summarised(offline: Assistant) -> None:
    answer = offline.ask("李晓华文章里“明确提质增效着力点”中关于自主创新讲了什么？")
    assert "部分：" not in answer.answer and "全面增强自主创新能力" in answer.answer
