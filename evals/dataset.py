"""The eval-set schema: load and validate a JSON Lines file of single-turn items and conversations."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rag.errors import InputError

DEFAULT_DATASET = "dataset.jsonl"
_LIST_FIELDS = ("authors", "evidence", "keywords", "forbidden")


@dataclass(frozen=True)
class Item:
    """One eval item; a single-turn question is a conversation of one turn, scored on its last turn."""

    id: str
    kind: str
    turns: tuple[str, ...]
    answerable: bool = True
    authors: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    filter_author: str | None = None  # the author filter the question is asked with
    filter_essay: str | None = None  # the essay filter (title or id) the question is asked with
    premise: str = ""  # "contradicted": a good answer says the question's premise does not match the essays

    @property
    def question(self) -> str:
        """The scored (last) user turn."""
        return self.turns[-1]

    @property
    def history(self) -> tuple[str, ...]:
        """The user turns asked before the scored one."""
        return self.turns[:-1]


def _strings(obj: dict[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = obj.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(f"{where}：字段 {name} 必须是非空字符串的列表")
    return tuple(v.strip() for v in value)


def parse_item(obj: Any, where: str) -> Item:
    """Validate one decoded JSON object against the schema documented in evals/README.md."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}：每行必须是一个 JSON 对象")
    item_id = obj.get("id")
    if not isinstance(item_id, str) or not item_id.strip():
        raise InputError(f"{where}：缺少字符串字段 id")
    if "turns" in obj:
        turns = _strings(obj, "turns", where)
        if not turns:
            raise InputError(f"{where}：turns 不能为空")
        default_kind = "conversation" if len(turns) > 1 else "question"
    elif isinstance(obj.get("question"), str) and obj["question"].strip():
        turns = (obj["question"].strip(),)
        default_kind = "question"
    else:
        raise InputError(f"{where}：需要 question（单轮）或 turns（多轮）字段")
    kind = obj.get("kind", default_kind)
    if not isinstance(kind, str) or not kind.strip():
        raise InputError(f"{where}：kind 必须是非空字符串")
    answerable = obj.get("answerable", True)
    if not isinstance(answerable, bool):
        raise InputError(f"{where}：answerable 必须是 true 或 false")
    lists = {name: _strings(obj, name, where) for name in _LIST_FIELDS}
    filters = obj.get("filter", {})
    if not isinstance(filters, dict) or set(filters) - {"author", "essay"} or not all(
            isinstance(v, str) and v.strip() for v in filters.values()):
        raise InputError(f"{where}：filter 必须是形如 {{\"author\": ..., \"essay\": ...}} 的对象，值为非空字符串")
    premise = obj.get("premise", "")
    if premise not in ("", "contradicted"):
        raise InputError(f"{where}：premise 只能是 \"contradicted\"")
    return Item(id=item_id.strip(), kind=kind.strip(), turns=turns, answerable=answerable,
                filter_author=filters.get("author"), filter_essay=filters.get("essay"), premise=premise, **lists)


def parse_lines(lines: Iterable[str], source: str) -> list[Item]:
    """Parse JSON Lines text; blank lines and lines starting with # are skipped."""
    items: list[Item] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{source} 第 {number} 行"
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}：JSON 无法解析（{exc.msg}）") from None
        item = parse_item(obj, where)
        if item.id in seen:
            raise InputError(f"{where}：id {item.id!r} 重复")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise InputError(f"{source}：评测集为空")
    return items


def load_dataset(path: Path | None = None) -> list[Item]:
    """Load the given file, or the eval set shipped with the package."""
    if path is None:
        text = resources.files("evals").joinpath(DEFAULT_DATASET).read_text(encoding="utf-8")
        return parse_lines(text.splitlines(), DEFAULT_DATASET)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"无法读取评测集 {path}：{exc.strerror}") from None
    return parse_lines(text.splitlines(), str(path))
