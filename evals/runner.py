"""`policy-qa eval`: run an eval set through the public answer API, score it, write the report, apply gates.

    policy-qa eval                                   # shipped set, offline backend, report under POLICY_QA_HOME
    policy-qa eval --compare                         # hybrid vs dense vs lexical retrieval side by side
    policy-qa eval --dataset my.jsonl --report out/  # your own set (schema in evals/README.md)
    policy-qa eval --min-hit5 0.95 --max-false-refusal 0.05   # exit 1 below the gates (CI)
    policy-qa eval --backend local --time-limit 120 --report out/local   # the packaged model (slow: docs/llm.md)
    policy-qa eval --backend local --resume out/local                  # go on after an interruption
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
from rag.errors import InputError, LLMTimeoutError, PolicyQAError
from rag.types import Answer, Delta, Essay, Hit, Turn

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
# A model backend's per-question limit (seconds, history turns included). The packaged 1.5B model needed up to
# about 50 s per question on a busy 2-core machine; an item over the limit is scored as unanswered.
DEFAULT_TIME_LIMIT = 180.0
PARTIAL_FILE = "partial.jsonl"


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
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help=f"seconds per question with a model backend (default {DEFAULT_TIME_LIMIT:g}; 0 = none); "
                             "an item over the limit is stopped and scored as unanswered")
    parser.add_argument("--resume", type=Path, default=None, metavar="DIR",
                        help="continue the run reported in DIR: items already in its partial.jsonl are not asked "
                             "again (same dataset and options)")
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


class OverTime(Exception):
    """An item ran past its time limit; `partial` is the text streamed so far."""

    def __init__(self, partial: str) -> None:
        super().__init__("time limit")
        self.partial = partial


class Deadline:
    """The running item's deadline (monotonic seconds), shared with the chat model wrapper."""

    at: float | None = None


class DeadlineChat:
    """A chat model whose streams stop at the running item's deadline, also inside steps that stream nothing
    to the caller (an essay summary's map calls)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """The inner model's pieces until the deadline; past it, LLMTimeoutError (generation stopped)."""
        pieces = self._inner.stream(messages, max_tokens=max_tokens)
        try:
            for piece in pieces:
                yield piece
                if Deadline.at is not None and time.monotonic() > Deadline.at:
                    raise LLMTimeoutError("超过评测的每题时限")
        finally:
            pieces.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _ask(asker: Asker, question: str, history: list[Turn], deadline: float | None, item: Item) -> Answer:
    """One question; with a deadline the answer is streamed and abandoned (generation stopped) past it."""
    stream = getattr(asker, "stream", None)
    if deadline is None or not callable(stream):
        return asker.ask(question, history=history, author=item.filter_author, essay=item.filter_essay)
    final: Answer | None = None
    text = ""
    events = stream(question, history=history, author=item.filter_author, essay=item.filter_essay)
    try:
        for event in events:
            if isinstance(event, Answer):
                final = event
            elif isinstance(event, Delta):
                text += event.text
            if final is None and time.monotonic() > deadline:
                raise OverTime(text)
    finally:
        events.close()  # closing the stream stops the model's generation
    if final is None:
        raise OverTime(text)
    return final


def run_item(asker: Asker, item: Item, time_limit: float | None = None) -> Outcome:
    """Play an item's turns through the assistant (earlier answers become history); score the last turn."""
    history: list[Turn] = []
    deadline = time.monotonic() + time_limit if time_limit else None
    Deadline.at = deadline
    start = time.perf_counter()
    try:
        for turn in item.history:
            previous = _ask(asker, turn, list(history), deadline, item)
            history += [Turn("user", turn), Turn("assistant", previous.answer)]
        start = time.perf_counter()
        answer = _ask(asker, item.question, list(history), deadline, item)
        wall = (time.perf_counter() - start) * 1000
    except OverTime as over:
        wall = (time.perf_counter() - start) * 1000
        return Outcome(answer=over.partial, refused=False, timings_ms={"wall": wall, "total": wall},
                       error=f"TimeLimit: 超过每题 {time_limit:g} 秒的时限")
    except PolicyQAError as exc:
        return Outcome(answer="", refused=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        Deadline.at = None
    if deadline is not None and time.monotonic() > deadline:
        return replace(outcome_from(answer, wall), error=f"TimeLimit: 超过每题 {time_limit:g} 秒的时限")
    return outcome_from(answer, wall)


def outcome_to_json(outcome: Outcome) -> dict[str, Any]:
    """An Outcome as JSON (for partial results)."""
    return {"answer": outcome.answer, "refused": outcome.refused,
            "retrieved": [[p.author, p.text, p.supported] for p in outcome.retrieved],
            "cited": [[p.author, p.text, p.supported] for p in outcome.cited],
            "timings_ms": dict(outcome.timings_ms), "usage": dict(outcome.usage), "error": outcome.error,
            "faithfulness": outcome.faithfulness, "premise": outcome.premise}


def outcome_from_json(data: dict[str, Any]) -> Outcome:
    """The Outcome written by `outcome_to_json`."""
    return Outcome(answer=data["answer"], refused=bool(data["refused"]),
                   retrieved=tuple(Passage(a, t, bool(s)) for a, t, s in data.get("retrieved", [])),
                   cited=tuple(Passage(a, t, bool(s)) for a, t, s in data.get("cited", [])),
                   timings_ms={k: float(v) for k, v in data.get("timings_ms", {}).items()},
                   usage={k: int(v) for k, v in data.get("usage", {}).items()},
                   error=str(data.get("error", "")), faithfulness=data.get("faithfulness"),
                   premise=str(data.get("premise", "")))


def partial_results(directory: Path, resume: bool) -> PartialResults:
    """The run's partial results: those already in `directory` with --resume, else a fresh file (a new run into
    an old report folder used to reuse its answers silently and report them as new)."""
    path = directory / PARTIAL_FILE
    if not resume and path.is_file():
        path.unlink()
    return PartialResults(path)


class PartialResults:
    """Outcomes appended to a JSON Lines file as they are scored, so an interrupted run can resume."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[tuple[str, str], Outcome] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.done[(row["config"], row["id"])] = outcome_from_json(row["outcome"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by the interruption: that item is asked again

    def get(self, config: str, item_id: str) -> Outcome | None:
        """The recorded outcome of an item, if any."""
        return self.done.get((config, item_id))

    def add(self, config: str, item_id: str, outcome: Outcome) -> None:
        """Record one outcome (flushed at once)."""
        self.done[(config, item_id)] = outcome
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"config": config, "id": item_id, "outcome": outcome_to_json(outcome)},
                               ensure_ascii=False) + "\n")


def warm_up(asker: Asker) -> float:
    """Ask one unscored question; returns its wall time in ms (the cold-start cost)."""
    start = time.perf_counter()
    with contextlib.suppress(PolicyQAError):
        asker.ask(WARM_UP_QUESTION)
    return (time.perf_counter() - start) * 1000


def evaluate(asker: Asker, items: Sequence[Item], name: str, options: dict[str, Any],
             secrets: Sequence[str] = (), judge: Judge | None = None,
             progress: Callable[[str], None] | None = None, progress_every: int = 20,
             time_limit: float | None = None, partial: PartialResults | None = None) -> ConfigResult:
    """Run every item through one configuration and score it (items in `partial` are not asked again)."""
    start = time.perf_counter()
    scores = []
    asked = 0
    for i, item in enumerate(items, 1):
        outcome = partial.get(name, item.id) if partial is not None else None
        if outcome is None:
            outcome = run_item(asker, item, time_limit)
            if judge is not None and item.answerable and not outcome.refused and outcome.cited:
                outcome = judge.rate(outcome)
            asked += 1
            if partial is not None:
                partial.add(name, item.id, outcome)
        scores.append(score_item(item, outcome, secrets))
        if progress and (i % progress_every == 0 or i == len(items)):
            elapsed = time.perf_counter() - start
            eta = elapsed / asked * (len(items) - i) if asked else 0.0
            wall = outcome.timings_ms.get("wall", 0.0) / 1000
            progress(f"[{name}] {i}/{len(items)} {item.id} {wall:.1f} s"
                     + (f", about {eta / 60:.0f} min left" if asked and i < len(items) else "")
                     + (f" ({outcome.error[:60]})" if outcome.error else ""))
    return ConfigResult(name=name, options=options, scores=scores, summaries=summarize_by_kind(scores),
                        seconds=time.perf_counter() - start)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_askers(settings: Settings, backend: str | None, modes: Sequence[str],
                 progress: Callable[[str], None]) -> tuple[dict[str, Asker], Any]:
    """One assistant per retrieval mode, all sharing one retriever and one chat model (returned too)."""
    from rag.answer import Assistant

    base = Assistant.from_settings(settings, backend=backend, progress=progress)
    chat = DeadlineChat(base.chat) if base.chat is not None else None
    askers: dict[str, Asker] = {}
    for mode in modes:
        view = FixedModeRetriever(base.retriever, mode)
        # Load the embedding model and indexes now, so loading does not count as the first item's latency.
        with contextlib.suppress(PolicyQAError):
            view.search(WARM_UP_QUESTION, k=1)
        askers[mode] = Assistant(view, chat, settings, summary_budget=base.summary_budget)
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
    if chat is None or chat.backend == "local":
        # time steady-state questions and report the cold start apart (for the local model the warm-up also
        # fills the runtime's cache with the system prompt, as in a running server)
        cold = [warm_up(askers[mode]) for mode in modes]
        notes.append(f"one unscored warm-up question before timing; cold start {cold[0]:.0f} ms")
    k = settings.top_k
    started = datetime.now().astimezone()
    directory = args.resume or args.report or settings.home / "reports" / f"eval-{started:%Y%m%d-%H%M%S}"
    limit = getattr(args, "time_limit", None)
    time_limit = None if chat is None else (DEFAULT_TIME_LIMIT if limit is None else (limit or None))
    partial = partial_results(Path(directory), resume=bool(args.resume))
    if partial.done:
        _stderr(f"resuming: {len(partial.done)} results already in {partial.path}")
    if time_limit:
        notes.append(f"per-question time limit {time_limit:g} s")
    configs = [
        evaluate(askers[mode], items, f"{mode} k={k}", {"retrieval": mode, "k": k, "backend": backend},
                 secrets, judge, _stderr, progress_every=20 if chat is None else 1, time_limit=time_limit,
                 partial=partial)
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
    report = write_report(run_result, directory)
    if args.json:
        print(json.dumps(results_dict(run_result), ensure_ascii=False))
    else:
        print(terminal_summary(run_result))
        print(f"report: {report}")
    for problem in run_result.violations:
        _stderr(f"below threshold: {problem}")
    return EXIT_BELOW_THRESHOLD if run_result.violations else 0
