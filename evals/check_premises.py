"""False alarms of the premise check: questions that presuppose nothing false but get a premise correction.

    python evals/check_premises.py                       # the tuning and retrieval question sets
    python evals/check_premises.py my_set.jsonl          # any set in the eval schema

Every single-turn question that is not marked `"premise": "contradicted"` (and is no false-premise or injection
item) is planned and checked as the answer layer does; each one flagged is printed with the explanation, then the
count. A new premise rule should leave the count at zero on the tuning sets.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_SETS = ("retrieval_set.jsonl", "retrieval_heldout.jsonl", "retrieval_kinds.jsonl", "dataset.jsonl",
                "dev.jsonl", "dev2.jsonl", "dev3.jsonl")


def _questions(path: Path) -> list[tuple[str, str]]:
    """(id, question) of the items that presuppose nothing false."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        d = json.loads(line)
        if d.get("question") and d.get("premise") != "contradicted" and d.get("kind") not in ("false_premise",
                                                                                              "injection"):
            out.append((str(d["id"]), str(d["question"])))
    return out


def check(paths: Sequence[Path]) -> int:
    """Print the flagged questions of the given sets and return how many there were."""
    from rag.answer import Assistant
    from rag.config import Settings
    from rag.question import strip_instructions

    assistant = Assistant.from_settings(Settings.from_env(), backend="extractive")
    checked = flagged = 0
    for path in paths:
        for item_id, question in _questions(path):
            plan = assistant.planner.plan(strip_instructions(question))
            if plan.kind != "qa":
                continue
            checked += 1
            found = assistant._premise(plan, assistant._search(plan.standalone, author=plan.author))
            if found is not None:
                flagged += 1
                print(f"{path.name} {item_id}: {question}\n    {found.explanation}")
    print(f"checked {checked} questions, flagged {flagged}")
    return flagged


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    args = [Path(a) for a in sys.argv[1:]] or [here / name for name in DEFAULT_SETS]
    sys.exit(1 if check(args) else 0)
