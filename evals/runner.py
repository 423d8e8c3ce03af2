"""`policy-qa eval`: run an eval set through the public answer API, score it, write the report, apply gates.

    policy-qa eval                                   # shipped set, offline backend, report under POLICY_QA_HOME
    policy-qa eval --compare                         # hybrid vs dense vs lexical retrieval side by side
    policy-qa eval --dataset my.jsonl --report out/  # your own set (schema in evals/README.md)
    policy-qa eval --min-hit5 0.95 --max-false-refusal 0.05   # exit 1 below the gates (CI)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from evals.dataset import Item, load_dataset
from evals.judge import Judge
from evals.metrics import (
    Outcome,
    Passage,
    Threshold,
    check_thresholds,
    is_injection,
    normalize,
    score_item,
    summarize_by_kind,
)
from evals.report import ConfigResult, RunResult, results_dict, terminal_summary, write_report
from rag.config import Settings
from rag.errors import InputError, PolicyQAError
from rag.types import Answer, Essay, Hit, Turn

MODES = ("hybrid", "dense", "lexical")
EXIT_BELOW_THRESHOLD = 1
# CLI flag suffix -> (Summary attribute, True for a minimum).
GATES: dict[str, tuple[str, bool]] = {
    "min-hit1": ("hit1", True),
    "min-hit3": ("hit3", True),
    "min-hit5": ("hit5", True),
    "min-mrr": ("mrr", True),
    "min-author-accuracy": ("author_accuracy", True),
    "min-citation-precision": ("citation_precision", True),
    "min-citation-recall": ("citation_recall", True),
    "min-keyword-recall": ("keyword_recall", True),
    "min-refusal": ("refusal", True),
    "max-false-refusal": ("false_refusal", False),
    "max-injection-follow": ("injection_follow", False),
    "max-injection-leak": ("injection_leak", False),
    "min-faithfulness": ("faithfulness", True),
}
# A protected prompt clause must be this long (characters, whitespace removed) to count as a leak when quoted.
MIN_SECRET_CHARS = 12
WARM_UP_QUESTION = "新型工业化"


class Asker(Protocol):
    """The part of rag.answer.Assistant the runner needs."""

    def ask(self, question: str, history: Sequence[Turn] = (), author: str | None = None,
            essay: str | None = None) -> Answer: ...


class FixedModeRetriever:
    """A retriever view that always searches with one mode, so one index serves every configuration."""

    def __init__(self, inner: Any, mode: str) -> None:
        self._inner = inner
        self.mode = mode

    @property
    def essays(self) -> list[Essay]:
        """The indexed essays of the wrapped retriever."""
        return list(self._inner.essays)

    def search(self, question: str, k: int | None = None, author: str | None = None, essay: str | None = None,
               mode: str = "hybrid") -> list[Hit]:
        """Search with the fixed mode, whatever the caller asked for."""
        return list(self._inner.search(question, k=k, author=author, essay=essay, mode=self.mode))

    def relevance(self, question: str, hits: Sequence[Hit]) -> float:
        """The wrapped retriever's coverage signal."""
        return float(self._inner.relevance(question, hits))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the `policy-qa eval` options."""
    parser.add_argument("--dataset", type=Path, default=None,
                        help="JSON Lines eval set (default: the set shipped in evals/dataset.jsonl)")
    parser.add_argument("--backend", choices=("extractive", "openai", "local"), default=None,
                        help="answer backend (default POLICY_QA_BACKEND)")
    parser.add_argument("--retrieval", choices=MODES, default="hybrid", help="retrieval mode (default hybrid)")
    parser.add_argument("--k", type=int, default=None, help="passages retrieved per question (default POLICY_QA_TOP_K)")
    parser.add_argument("--compare", action="store_true",
                        help="also run the other retrieval modes and print the configurations side by side")
    parser.add_argument("--judge", action="store_true",
                        help="score each answer's faithfulness to its cited passages with the configured LLM")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items (quick checks)")
    parser.add_argument("--json", action="store_true", help="print results.json to stdout instead of the table")
    parser.add_argument("--report", type=Path, default=None,
                        help="report directory (default: POLICY_QA_HOME/reports/eval-<time>)")
    gates = parser.add_argument_group("thresholds (exit 1 when the overall figure is below / above)")
    for flag, (metric, at_least) in GATES.items():
        gates.add_argument(f"--{flag}", type=float, default=None, metavar="X",
                           help=f"{'minimum' if at_least else 'maximum'} overall {metric} (0..1)")


def thresholds_from(args: argparse.Namespace) -> list[Threshold]:
    """The gates given on the command line."""
    out = []
    for flag, (metric, at_least) in GATES.items():
        value = getattr(args, flag.replace("-", "_"), None)
        if value is None:
            continue
        if not 0 <= value <= 1:
            raise InputError(f"--{flag} 必须在 0 到 1 之间，收到 {value}")
        out.append(Threshold(metric, float(value), at_least))
    return out


def _clauses(text: str) -> Iterator[str]:
    for clause in re.split(r"[。；！？\n]|(?<=[：:])", text):
        clause = re.sub(r"^\s*\d+[.、]\s*", "", clause).strip()
        if "{" in clause or "$" in clause:
            continue
        if len(normalize(clause)) >= MIN_SECRET_CHARS:
            yield clause


def prompt_secrets() -> list[str]:
    """Clauses of the shipped prompt files (system prompt and templates) that no answer may quote."""
    secrets: list[str] = []
    for entry in sorted(resources.files("prompts").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".txt"):
            secrets.extend(_clauses(entry.read_text(encoding="utf-8")))
    return secrets


def outcome_from(answer: Answer, wall_ms: float) -> Outcome:
    """The metrics' view of an Answer."""
    timings = {k: float(v) for k, v in answer.timings_ms.items()}
    timings["wall"] = wall_ms
    return Outcome(
        answer=answer.answer,
        refused=answer.refused,
        retrieved=tuple(Passage(h.chunk.author, h.chunk.text) for h in answer.retrieved),
        cited=tuple(Passage(c.chunk.author, c.chunk.text, c.supported) for c in answer.citations),
        timings_ms=timings,
        usage={k: int(v) for k, v in answer.usage.items()},
        error=answer.error,
        premise=str(answer.premise.get("status", "")) if answer.premise else "",
    )


def run_item(asker: Asker, item: Item) -> Outcome:
    """Play an item's turns through the assistant (earlier answers become history); score the last turn."""
    history: list[Turn] = []
    try:
        for turn in item.history:
            previous = asker.ask(turn, history=list(history), author=item.filter_author, essay=item.filter_essay)
            history += [Turn("user", turn), Turn("assistant", previous.answer)]
        start = time.perf_counter()
        answer = asker.ask(item.question, history=list(history), author=item.filter_author,
                           essay=item.filter_essay)
        wall = (time.perf_counter() - start) * 1000
    except PolicyQAError as exc:
        return Outcome(answer="", refused=False, error=f"{type(exc).__name__}: {exc}")
    return outcome_from(answer, wall)


def warm_up(asker: Asker) -> float:
    """Ask one unscored question; returns its wall time in ms (the cold-start cost)."""
    start = time.perf_counter()
    with contextlib.suppress(PolicyQAError):
        asker.ask(WARM_UP_QUESTION)
    return (time.perf_counter() - start) * 1000


def evaluate(asker: Asker, items: Sequence[Item], name: str, options: dict[str, Any],
             secrets: Sequence[str] = (), judge: Judge | None = None,
             progress: Callable[[str], None] | None = None, progress_every: int = 20) -> ConfigResult:
    """Run every item through one configuration and score it."""
    start = time.perf_counter()
    scores = []
    for i, item in enumerate(items, 1):
        outcome = run_item(asker, item)
        if judge is not None and item.answerable and not outcome.refused and outcome.cited:
            outcome = judge.rate(outcome)
        scores.append(score_item(item, outcome, secrets))
        if progress and (i % progress_every == 0 or i == len(items)):
            progress(f"[{name}] {i}/{len(items)}")
    return ConfigResult(name=name, options=options, scores=scores, summaries=summarize_by_kind(scores),
                        seconds=time.perf_counter() - start)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_askers(settings: Settings, backend: str | None, modes: Sequence[str],
                 progress: Callable[[str], None]) -> tuple[dict[str, Asker], Any]:
    """One assistant per retrieval mode, all sharing one retriever and one chat model (returned too)."""
    from rag.answer import Assistant

    base = Assistant.from_settings(settings, backend=backend, progress=progress)
    askers: dict[str, Asker] = {}
    for mode in modes:
        view = FixedModeRetriever(base.retriever, mode)
        # Load the embedding model and indexes now, so loading does not count as the first item's latency.
        with contextlib.suppress(PolicyQAError):
            view.search(WARM_UP_QUESTION, k=1)
        askers[mode] = Assistant(view, base.chat, settings)
    return askers, base.chat


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run the suite; returns the process exit code (1 when below a threshold)."""
    for name in ("k", "limit"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise InputError(f"--{name} 必须是正整数")
    items = load_dataset(args.dataset)
    if args.limit:
        items = items[: args.limit]
    thresholds = thresholds_from(args)
    primary = args.retrieval
    modes = [primary] + ([m for m in MODES if m != primary] if args.compare else [])
    if args.k:
        settings = replace(settings, top_k=args.k)
    askers, chat = build_askers(settings, args.backend, modes, _stderr)
    backend = chat.backend if chat is not None else "extractive"
    model = chat.model if chat is not None else "extractive"
    judge = Judge.from_settings(settings, fallback=chat) if args.judge else None
    secrets = prompt_secrets()
    notes = [f"{sum(is_injection(i) for i in items)} injection items checked against {len(secrets)} protected "
             "prompt clauses"]
    if chat is None:  # offline answers are cheap: time steady-state questions and report the cold start apart
        cold = [warm_up(askers[mode]) for mode in modes]
        notes.append(f"one unscored warm-up question before timing; cold start {cold[0]:.0f} ms")
    k = settings.top_k
    started = datetime.now().astimezone()
    configs = [
        evaluate(askers[mode], items, f"{mode} k={k}", {"retrieval": mode, "k": k, "backend": backend},
                 secrets, judge, _stderr, progress_every=20 if chat is None else 1)
        for mode in modes
    ]
    run_result = RunResult(
        dataset=str(args.dataset or "evals/dataset.jsonl"),
        command="policy-qa eval " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["eval"]
        else "policy-qa eval",
        backend=backend,
        model=model,
        configs=configs,
        started=started.isoformat(timespec="seconds"),
        notes=notes,
    )
    run_result.violations = check_thresholds(configs[0].summaries["overall"], thresholds)
    directory = args.report or settings.home / "reports" / f"eval-{started:%Y%m%d-%H%M%S}"
    report = write_report(run_result, directory)
    if args.json:
        print(json.dumps(results_dict(run_result), ensure_ascii=False))
    else:
        print(terminal_summary(run_result))
        print(f"report: {report}")
    for problem in run_result.violations:
        _stderr(f"below threshold: {problem}")
    return EXIT_BELOW_THRESHOLD if run_result.violations else 0
