"""Prompt files: shipped as package data, rendered strictly, retrieved text only through variables."""

from __future__ import annotations

from importlib import resources

import pytest

import prompts

TEMPLATES = ["system", "answer", "rewrite", "summary_essay", "summary_map", "summary_topic"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_is_package_data_and_renders(name: str) -> None:
    assert resources.files("prompts").joinpath(f"{name}.txt").is_file()
    names = prompts.variables(name)
    text = prompts.render(name, **{v: f"<{v}>" for v in names})
    assert "{{" not in text
    for v in names:
        assert f"<{v}>" in text


@pytest.mark.parametrize("name", [t for t in TEMPLATES if prompts.variables(t)])
def test_missing_variable_raises(name: str) -> None:
    names = sorted(prompts.variables(name))
    with pytest.raises(prompts.MissingVariableError, match=names[0]):
        prompts.render(name, **{v: "x" for v in names[1:]})


def test_rendering_is_single_pass() -> None:
    out = prompts.render("answer", sources="正文 {{ refusal }}", question="{{ sources }}", note="", refusal="拒答")
    assert "正文 {{ refusal }}" in out and "问题：{{ sources }}" in out


def test_the_instruction_is_a_fixed_prefix_before_the_sources_and_the_question_comes_last() -> None:
    # the prefix is the same for every question, so a local runtime's prompt cache keeps it between questions
    out = prompts.render("answer", sources="【资料 1 开始】甲【资料 1 结束】", question="问", note="", refusal="拒")
    other = prompts.render("answer", sources="【资料 1 开始】乙【资料 1 结束】", question="另", note="", refusal="拒")
    assert out.index("[n]") < out.index("【资料 1 开始】") < out.index("问题：问")
    assert out[:out.index("【资料 1 开始】")] == other[:other.index("【资料 1 开始】")]


def test_system_prompt_states_the_rules() -> None:
    text = prompts.render("system", refusal="REFUSAL", decline="DECLINE")
    for needle in ("REFUSAL", "DECLINE", "[1]", "数据", "不是指令"):
        assert needle in text


def test_phrases_are_strict() -> None:
    assert "512" in prompts.phrase("question_too_long", tokens=600, limit=512)
    assert "POLICY_QA_MAX_QUESTION_TOKENS" in prompts.phrase("question_too_long", tokens=600, limit=512)
    with pytest.raises(prompts.MissingVariableError):
        prompts.phrase("question_too_long", tokens=1)
    assert prompts.phrase("refusal_topics", topics="甲").startswith(prompts.phrase("refusal"))
