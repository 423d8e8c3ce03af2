"""Checks shared by the tests that answer questions on the seed essays."""

from __future__ import annotations

import re

from rag.types import Answer


def cited_authors(answer: Answer) -> set[str]:
    return {c.chunk.author.replace(" ", "") for c in answer.citations}


def assert_grounded(answer: Answer) -> None:
    ids = {h.chunk.id for h in answer.retrieved}
    assert answer.citations and all(c.chunk.id in ids for c in answer.citations)
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)} == {c.n for c in answer.citations}
