"""Calibrate the answer layer's coverage gate (rag.evidence) on question sets: refusal and false-refusal counts.

    python evals/calibrate_gate.py                      # tuning sets, then the check sets
    python evals/calibrate_gate.py my_set.jsonl         # one set
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rag.evidence import COVERAGE_MIN, RELEVANCE_MIN, RELEVANCE_SURE, Coverage
from rag.types import Hit


def _questions(path: Path) -> list[tuple[bool, str]]:
    """(answerable, question) of the single-turn, non-injection items of an eval or retrieval question set."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        if d.get("question") and not d.get("history") and d.get("kind") != "injection":
            out.append((bool(d.get("answerable", True)), str(d["question"])))
    return out


def calibrate(fit: Sequence[Path], check: Sequence[Path] = ()) -> int:
    """Print the gate's refusal and false-refusal counts per question set now, and the best thresholds on a
    grid chosen on the `fit` sets (then shown on the `check` sets, which played no part in the choice)."""
    import itertools

    from rag.answer import Assistant
    from rag.config import Settings
    from rag.question import strip_instructions

    assistant = Assistant.from_settings(Settings.from_env(), backend="extractive")
    Row = tuple[bool, float, Coverage, str, list[Hit], bool]
    rows: dict[str, list[Row]] = {}
    for path in [*fit, *check]:
        rows[path.name] = []
        for answerable, question in _questions(path):
            plan = assistant.planner.plan(strip_instructions(question))
            if plan.kind != "qa":
                continue
            hits = assistant._search(plan.standalone, author=plan.author)
            premise = assistant._premise(plan, hits) is not None  # a premise correction answers without the gate
            rel = assistant.retriever.relevance(plan.standalone, hits) if hits else 0.0
            cov = assistant.evidence.coverage(plan.standalone, hits)
            rows[path.name].append((answerable, rel, cov, plan.standalone, hits, premise))

    def counts(names: Sequence[str], c: float, lo: float, hi: float) -> tuple[int, int, int, int]:
        sel = [r for n in names for r in rows[n]]
        ok = [r[5] or assistant.evidence.covered(r[1], r[2], r[3], r[4], coverage_min=c, relevance_min=lo,
                                                 relevance_sure=hi) for r in sel]
        una = [o for r, o in zip(sel, ok, strict=True) if not r[0]]
        ans = [o for r, o in zip(sel, ok, strict=True) if r[0]]
        return sum(not o for o in una), len(una), sum(not o for o in ans), len(ans)

    def line(c: float, lo: float, hi: float) -> str:
        return "; ".join("{}: refused {}/{}, covered refused {}/{}".format(n, *counts([n], c, lo, hi)) for n in rows)

    print(f"current (COVERAGE_MIN={COVERAGE_MIN}, RELEVANCE_MIN={RELEVANCE_MIN}, RELEVANCE_SURE={RELEVANCE_SURE}): "
          + line(COVERAGE_MIN, RELEVANCE_MIN, RELEVANCE_SURE))
    fit_names = [p.name for p in fit]
    grid = []
    for c, lo, hi in itertools.product((0.2, 0.3, 0.4, 0.5, 0.6), (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
                                       (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)):
        if hi > lo:
            ref, n_una, fr, n_ans = counts(fit_names, c, lo, hi)
            # a wrongly refused covered question costs three times an answered uncovered one
            grid.append(((1 - ref / max(1, n_una)) + 3 * fr / max(1, n_ans), c, lo, hi))
    for _, c, lo, hi in sorted(grid)[:5]:
        print(f"COVERAGE_MIN={c} RELEVANCE_MIN={lo} RELEVANCE_SURE={hi}: {line(c, lo, hi)}")
    return 0


if __name__ == "__main__":
    import sys

    evals = Path(__file__).resolve().parent
    fit_sets = [evals / n for n in ("dataset.jsonl", "retrieval_set.jsonl", "retrieval_heldout.jsonl", "dev.jsonl",
                                    "retrieval_kinds.jsonl")]
    check_sets = [evals / n for n in ("retrieval_test.jsonl", "heldout.jsonl")]
    args = [Path(a) for a in sys.argv[1:]]
    raise SystemExit(calibrate(args or fit_sets, [] if args else [p for p in check_sets if p.is_file()]))
