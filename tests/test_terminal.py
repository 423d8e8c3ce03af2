"""`policy-qa chat`: slash commands, history between turns, compact references."""

from __future__ import annotations

import io
from collections.abc import Iterator

from ui_fakes import FakeAssistant

from rag.terminal import run_chat


def _feed(lines: list[str]) -> tuple[object, Iterator[str]]:
    queue = iter(lines)

    def read(_prompt: str) -> str:
        try:
            return next(queue)
        except StopIteration:
            raise EOFError from None

    return read, queue


def test_chat_commands_history_and_compact_sources() -> None:
    fake = FakeAssistant()
    read, _ = _feed(["什么是产业韧性？", "", "它和科技有什么关系？", "/sources", "/clear", "第三个问题", "/nope",
                     "/quit", "never asked"])
    out = io.StringIO()
    assert run_chat(fake, read=read, out=out, author="李晓华") == 0  # type: ignore[arg-type]
    text = out.getvalue()
    assert [c.question for c in fake.calls] == ["什么是产业韧性？", "它和科技有什么关系？", "第三个问题"]
    assert [t.content for t in fake.calls[1].history][0] == "什么是产业韧性？"  # turns carry over
    assert fake.calls[2].history == ()  # /clear forgot them
    assert all(c.author == "李晓华" for c in fake.calls)
    # compact: one line per source, no passage text until /sources asks for it
    assert "来源：[1][2] 〔李晓华《把握高质量发展要求推进新型工业化》·新型工业化高质量发展的特征〕\n" in text
    assert text.count("全球价值链分工按照") == 1  # printed once, by /sources
    assert "作者单位：中国社会科学院工业经济研究所研究员" in text
    assert text.count("离线摘录模式") == 1  # the backend notice is said once
    assert "没有这个命令：/nope" in text and "对话已清空" in text


def test_chat_ends_on_eof_and_reports_bad_input() -> None:
    read, _ = _feed(["   ", "/sources"])
    out = io.StringIO()
    assert run_chat(FakeAssistant(), read=read, out=out) == 0  # type: ignore[arg-type]
    assert "上一个回答没有引用原文" in out.getvalue()
