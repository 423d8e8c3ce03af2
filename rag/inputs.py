"""Requests from outside (a line of `ask -`/`search -`, a /chat call) checked field by field before any work.

A bad field raises InputError with one Chinese sentence naming it, so one bad line or call costs only itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rag.errors import InputError

FIELDS = ("question", "essay", "author")


@dataclass(frozen=True)
class Request:
    """One question with its optional filters and earlier turns (JSON-like, see Turn.list_from)."""

    question: str
    essay: str | None = None
    author: str | None = None
    history: Any = None


def text_field(value: Any, name: str, required: bool = False) -> str | None:
    """A string field as given, None when absent; a non-string or a lone surrogate is an InputError."""
    if value is None or (value == "" and not required):
        if required:
            raise InputError(f"缺少 {name} 字段（需要一个字符串）。")
        return None
    if not isinstance(value, str):
        raise InputError(f"{name} 字段必须是字符串，收到的是 {type(value).__name__}。")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{name} 字段含有无效的 Unicode 字符（孤立的代理项），无法处理。") from None
    return value


def _texts_ok(value: Any, depth: int = 0) -> bool:
    """True when every string inside a JSON-like history value encodes as UTF-8."""
    if depth > 20:
        return False
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, list):
        return all(_texts_ok(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_texts_ok(k, depth + 1) and _texts_ok(v, depth + 1) for k, v in value.items())
    return True


def request(question: Any, essay: Any = None, author: Any = None, history: Any = None) -> Request:
    """A checked request from loose values."""
    q = text_field(question, "question", required=True)
    assert q is not None
    if history is not None and not isinstance(history, list):
        raise InputError("history 字段必须是对话列表（[{\"role\": ..., \"content\": ...}]）。")
    if history is not None and not _texts_ok(history):
        raise InputError("history 字段含有无效的 Unicode 字符或嵌套过深。")
    return Request(q, text_field(essay, "essay"), text_field(author, "author"), history)


def parse_line(raw: bytes) -> Request:
    """One line of a batch: a JSON object {"question": ..., "essay"?, "author"?, "history"?} or a plain question."""
    try:
        line = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InputError(f"这一行不是有效的 UTF-8（第 {exc.start + 1} 个字节起）。") from None
    if not line.startswith("{"):
        return request(line)
    try:
        obj = json.loads(line)
    except RecursionError:
        raise InputError("JSON 嵌套过深，无法解析。") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"JSON 行无法解析：{exc.msg}（第 {exc.pos + 1} 个字符）。") from None
    if not isinstance(obj, dict):
        raise InputError('JSON 行需要是一个对象，例如 {"question": "……"}。')
    return request(obj.get("question"), obj.get("essay"), obj.get("author"), obj.get("history"))
