"""The coverage-gate tool reads eval items and retrieval questions alike."""

from __future__ import annotations

import json
from pathlib import Path

from evals.calibrate_gate import _questions

EVALS = Path(__file__).resolve().parent.parent / "evals"


def test_question_sets_load_as_answerable_question_pairs() -> None:
    for name in ("dataset.jsonl", "heldout.jsonl", "retrieval_set.jsonl", "retrieval_heldout.jsonl",
                 "retrieval_test.jsonl"):
        pairs = _questions(EVALS / name)
        assert pairs and all(isinstance(a, bool) and q.strip() for a, q in pairs), name
        assert any(not a for a, _q in pairs), f"{name} has no uncovered questions"
    retrieval = _questions(EVALS / "retrieval_test.jsonl")
    assert (sum(a for a, _q in retrieval), sum(not a for a, _q in retrieval)) == (40, 8)
    items = [json.loads(line) for line in (EVALS / "dataset.jsonl").read_text(encoding="utf-8").splitlines() if line]
    left_out = {d["question"] for d in items if d.get("kind") == "injection" or d.get("history")}
    assert left_out and not left_out & {q for _a, q in _questions(EVALS / "dataset.jsonl")}
