"""`policy-qa chat`: a conversation in the terminal, with line editing, history and a few slash commands.

    /sources   the passages the last answer cited, in full
    /clear     forget the conversation (the next question starts afresh)
    /help      this list
    /quit      leave (Ctrl-D works too)
"""

from __future__ import annotations

import contextlib
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, TextIO

import prompts
from rag.errors import InputError
from rag.types import Answer, Citation, Delta, Turn

HELP = "命令：/sources 查看上一个回答引用的原文　/clear 清空对话　/help 帮助　/quit 退出（或 Ctrl-D）"
HISTORY_LINES = 1000  # questions kept in the history file across sessions


class Streams(Protocol):
    """What the chat needs from `rag.answer.Assistant`."""

    def stream(self, question: str, history: Sequence[Turn] = (), author: str | None = None,
               essay: str | None = None) -> Iterator[Delta | Answer]: ...


def _dim(text: str, out: TextIO) -> str:
    return f"\033[2m{text}\033[0m" if out.isatty() else text


def compact_references(citations: Sequence[Citation]) -> list[str]:
    """One line per cited section: [1][2] 〔作者《标题》·章节〕, flagged when a sentence was not found in it."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.chunk.label, []).append(c)
    return ["".join(f"[{c.n}]" for c in cs) + f" {label}" + ("" if all(c.supported for c in cs) else "（未核实）")
            for label, cs in groups.items()]


# Characters per line of a passage: Chinese characters take two columns, so 40 fill an 80-column terminal.
WRAP = 40


def full_sources(citations: Sequence[Citation], width: int = WRAP) -> list[str]:
    """Each cited passage in full under its label, wrapped for the terminal."""
    lines: list[str] = []
    for c in citations:
        lines.append(f"[{c.n}] {c.chunk.label}")
        if c.chunk.affiliation:
            lines.append(f"    作者单位：{c.chunk.affiliation}")
        for paragraph in c.chunk.text.splitlines():
            lines += textwrap.wrap(paragraph, width=width, initial_indent="    ", subsequent_indent="    ")
        lines.append("")
    return lines


def _enable_line_editing(history_file: Path | None) -> Callable[[], None]:
    """Arrow keys, editing and history for input() where GNU readline is available; returns a saver."""
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline: plain input() still works
        return lambda: None
    if history_file is not None:
        with contextlib.suppress(OSError):  # no history yet, or unreadable: start without
            readline.read_history_file(history_file)
    readline.set_history_length(HISTORY_LINES)

    def save() -> None:
        if history_file is not None:
            try:
                history_file.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(history_file)
                history_file.chmod(0o600)  # the questions asked are the user's business
            except OSError:
                pass

    return save


def run_chat(assistant: Streams, *, author: str | None = None, essay: str | None = None,
             history_file: Path | None = None, read: Callable[[str], str] = input,
             out: TextIO | None = None) -> int:
    """Ask questions in a loop, each after the earlier turns; returns the exit code."""
    out = out or sys.stdout
    save = _enable_line_editing(history_file) if read is input else (lambda: None)
    history: list[Turn] = []
    last: Answer | None = None
    notices: set[str] = set()  # a backend notice (offline mode...) is said once, not under every answer
    print("政策文章问答 · 多轮对话。" + HELP, file=out)
    try:
        while True:
            try:
                line = read("\n问：").strip()
            except (EOFError, KeyboardInterrupt):
                print(file=out)
                return 0
            if not line:
                continue
            command = line.lower()
            if command in ("/quit", "/exit", "/q"):
                return 0
            if command == "/help":
                print(HELP, file=out)
                continue
            if command == "/clear":
                history, last = [], None
                print("对话已清空。", file=out)
                continue
            if command == "/sources":
                if last is None or not last.citations:
                    print("上一个回答没有引用原文。", file=out)
                else:
                    print("\n".join(full_sources(last.citations)).rstrip(), file=out)
                continue
            if line.startswith("/"):
                print(f"没有这个命令：{line}。{HELP}", file=out)
                continue
            last = _answer(assistant, line, history, author, essay, out, notices) or last
            if last is not None and last.question == line and not last.error:
                history += [Turn("user", line), Turn("assistant", last.answer)]
    finally:
        save()


def _answer(assistant: Streams, question: str, history: Sequence[Turn], author: str | None, essay: str | None,
            out: TextIO, notices: set[str]) -> Answer | None:
    final: Answer | None = None
    print("答：", end="", file=out, flush=True)
    try:
        for event in assistant.stream(question, history=history, author=author, essay=essay):
            if isinstance(event, Delta):
                print(event.text, end="", file=out, flush=True)
            else:
                final = event
    except InputError as exc:
        print(str(exc), file=out)
        return None
    print(file=out)
    if final is None:
        return None
    if final.replaced:  # the streamed text failed the checks: say so and show the answer that counts
        print(prompts.phrase("replaced_marker"), file=out)
        print(final.answer, file=out)
    refs = compact_references(final.citations)
    if final.error and final.error not in final.answer:
        print(final.error, file=out)
    if final.notice and final.notice not in notices:
        notices.add(final.notice)
        print(_dim(final.notice, out), file=out)
    if refs:
        print(_dim("来源：" + "\n      ".join(refs), out), file=out)
        print(_dim("（/sources 查看原文）", out), file=out)
    return final
