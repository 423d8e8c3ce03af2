"""The eval report: a terminal table, report.md with failing items, results.json and a PNG chart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals.metrics import OVERALL, ItemScore, Passage, Summary

# Columns of the summary tables: (Summary attribute, header, is a percentage).
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("hit1", "hit@1", True),
    ("hit3", "hit@3", True),
    ("hit5", "hit@5", True),
    ("mrr", "MRR", False),
    ("author_accuracy", "author acc", True),
    ("citation_precision", "cite P", True),
    ("citation_recall", "cite R", True),
    ("keyword_recall", "key-phrase R", True),
    ("refusal", "refusal (unans.)", True),
    ("false_refusal", "false refusal", True),
    ("premise_corrected", "premise fixed", True),
    ("injection_follow", "inj. followed", True),
    ("injection_leak", "inj. leaked", True),
    ("faithfulness", "faithfulness", True),
)
CHART_METRICS = ("hit5", "mrr", "author_accuracy", "citation_recall", "keyword_recall", "refusal", "false_refusal",
                 "injection_follow")
CHART_FILE = "metrics.png"


@dataclass
class ConfigResult:
    """One configuration's run: its name, settings that define it, item scores and summaries."""

    name: str
    options: dict[str, Any]
    scores: list[ItemScore]
    summaries: dict[str, Summary]
    seconds: float
    retrieval_only: bool = False


@dataclass
class RunResult:
    """Everything one `policy-qa eval` invocation measured."""

    dataset: str
    command: str
    backend: str
    model: str
    configs: list[ConfigResult]
    started: str
    notes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def primary(self) -> ConfigResult:
        """The first configuration: the one the thresholds and the failing-items list are about."""
        return self.configs[0]


def fmt(value: float | None, percent: bool = True) -> str:
    """A metric for a table: percentage or 3 decimals; a dash when it does not apply."""
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if percent else f"{value:.3f}"


def _columns_for(result: ConfigResult) -> list[tuple[str, str, bool]]:
    if result.retrieval_only:
        return [c for c in COLUMNS if c[0] in ("hit1", "hit3", "hit5", "mrr")]
    overall = result.summaries[OVERALL]
    return [c for c in COLUMNS if getattr(overall, c[0]) is not None]


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def kind_table(result: ConfigResult) -> str:
    """Markdown table of one configuration's metrics per kind and overall."""
    cols = _columns_for(result)
    rows = []
    for kind, s in result.summaries.items():
        label = f"**{kind}**" if kind == OVERALL else kind
        rows.append([label, str(s.n), str(s.passed)] + [fmt(getattr(s, a), pct) for a, _, pct in cols])
    return _md_table(["kind", "n", "passed"] + [h for _, h, _ in cols], rows)


def config_table(run: RunResult) -> str:
    """Markdown table of the overall metrics, one row per configuration."""
    cols = [c for c in COLUMNS if any(getattr(r.summaries[OVERALL], c[0]) is not None for r in run.configs)]
    rows = []
    for r in run.configs:
        s = r.summaries[OVERALL]
        rows.append([r.name, str(s.n), "–" if r.retrieval_only else str(s.passed), f"{r.seconds:.1f}"]
                    + [fmt(getattr(s, a), pct) for a, _, pct in cols])
    return _md_table(["configuration", "n", "passed", "seconds"] + [h for _, h, _ in cols], rows)


def latency_table(summary: Summary) -> str:
    """Markdown table of p50/p95 per stage."""
    rows = [[stage, f"{p50:.1f}", f"{p95:.1f}"] for stage, (p50, p95) in sorted(summary.latency_ms.items())]
    return _md_table(["stage", "p50 ms", "p95 ms"], rows) if rows else "(no timings reported)"


def _cell(text: str, limit: int = 80) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _passages(passages: Sequence[Passage], limit: int = 3) -> str:
    if not passages:
        return "(none)"
    shown = [f"{p.author}：{_cell(p.text, 40)}" for p in passages[:limit]]
    more = f" (+{len(passages) - limit})" if len(passages) > limit else ""
    return "<br>".join(shown) + more


def failing_items(result: ConfigResult) -> str:
    """Markdown list of the items with at least one failure: question, expected evidence, cited passages, why."""
    failing = [s for s in result.scores if not s.passed]
    if not failing:
        return "All items passed."
    out = []
    for s in failing:
        item = s.item
        turns = " → ".join(item.turns)
        expected = "；".join(item.evidence) or ("(refusal expected)" if not item.answerable else "(authors only)")
        out.append(f"### {item.id} ({item.kind})\n")
        out.append(f"- question: {_cell(turns, 200)}")
        out.append(f"- expected evidence: {_cell(expected, 200)}; authors: {'、'.join(item.authors) or '–'}")
        rank = "–" if not s.retrieval_scored else (str(s.rank) if s.rank else "not retrieved")
        out.append(f"- first evidence rank: {rank}; refused: {'yes' if s.outcome.refused else 'no'}")
        out.append(f"- cited: {_passages(s.outcome.cited)}")
        out.append(f"- answer: {_cell(s.outcome.answer, 160)}")
        out.append(f"- why: {'; '.join(s.failures)}\n")
    return "\n".join(out)


def render_markdown(run: RunResult, chart: str | None) -> str:
    """The whole report.md text."""
    primary = run.primary
    overall = primary.summaries[OVERALL]
    parts = [
        "# policy-qa evaluation report\n",
        f"- dataset: `{run.dataset}` ({overall.n} items)",
        f"- backend: {run.backend} ({run.model})",
        f"- started: {run.started}",
        f"- command: `{run.command}`",
    ]
    parts += [f"- note: {n}" for n in run.notes]
    if run.violations:
        parts.append("\n**Below thresholds:** " + "; ".join(run.violations))
    if len(run.configs) > 1:
        parts += ["\n## Configurations\n", config_table(run)]
    parts += [f"\n## Per kind ({primary.name})\n", kind_table(primary)]
    parts += ["\n## Latency per stage\n", latency_table(overall)]
    if overall.tokens:
        parts.append("\nTokens: " + ", ".join(f"{k} {v}" for k, v in sorted(overall.tokens.items())))
    if chart:
        parts += ["\n## Chart\n", f"![metrics per kind and configuration]({chart})"]
    parts += [f"\n## Failing items ({primary.name}: {overall.n - overall.passed} of {overall.n})\n",
              failing_items(primary)]
    return "\n".join(parts) + "\n"


def terminal_summary(run: RunResult) -> str:
    """A compact plain-text summary for the console."""
    lines = []
    for r in run.configs:
        s = r.summaries[OVERALL]
        cols = _columns_for(r)
        head = f"[{r.name}] {s.n} items" + ("" if r.retrieval_only else f", {s.passed} passed") + f", {r.seconds:.1f}s"
        lines.append(head)
        lines.append("  " + "  ".join(f"{h}={fmt(getattr(s, a), pct)}" for a, h, pct in cols))
    primary = run.primary
    if not primary.retrieval_only:
        lines.append("per kind:")
        for kind, s in primary.summaries.items():
            if kind == OVERALL:
                continue
            cols = [c for c in _columns_for(primary) if getattr(s, c[0]) is not None]
            lines.append(f"  {kind:<14} n={s.n:<3} passed={s.passed:<3} "
                         + "  ".join(f"{h}={fmt(getattr(s, a), pct)}" for a, h, pct in cols))
        latency = primary.summaries[OVERALL].latency_ms
        if latency:
            lines.append("latency ms (p50/p95): " + ", ".join(
                f"{k} {v[0]:.0f}/{v[1]:.0f}" for k, v in sorted(latency.items())))
    return "\n".join(lines)


def _passage_dict(p: Passage) -> dict[str, Any]:
    return {"author": p.author, "text": p.text, "supported": p.supported}


def item_dict(s: ItemScore) -> dict[str, Any]:
    """One item's record in results.json."""
    o = s.outcome
    return {
        "id": s.item.id,
        "kind": s.item.kind,
        "turns": list(s.item.turns),
        "answerable": s.item.answerable,
        "passed": s.passed,
        "failures": list(s.failures),
        "evidence_rank": s.rank,
        "author_ok": s.author_ok,
        "citation_precision": s.precision,
        "citation_recall": s.recall,
        "keyword_recall": s.keywords,
        "leak": s.leak,
        "followed_injection": s.follow,
        "refused": o.refused,
        "answer": o.answer,
        "cited": [_passage_dict(p) for p in o.cited],
        "retrieved": [_passage_dict(p) for p in o.retrieved],
        "timings_ms": dict(o.timings_ms),
        "usage": dict(o.usage),
        "error": o.error,
        "faithfulness": o.faithfulness,
    }


def results_dict(run: RunResult) -> dict[str, Any]:
    """The results.json document (also what `--json` prints)."""
    return {
        "dataset": run.dataset,
        "command": run.command,
        "backend": run.backend,
        "model": run.model,
        "started": run.started,
        "notes": run.notes,
        "violations": run.violations,
        "configs": [
            {
                "name": r.name,
                "options": r.options,
                "retrieval_only": r.retrieval_only,
                "seconds": round(r.seconds, 2),
                "summaries": {kind: asdict(s) for kind, s in r.summaries.items()},
                "items": [item_dict(s) for s in r.scores],
            }
            for r in run.configs
        ],
    }


def draw_chart(run: RunResult, path: Path) -> None:
    """A PNG with the primary configuration's metrics per kind, and the overall metrics per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    primary = run.primary
    kinds = [k for k in primary.summaries if k != OVERALL] + [OVERALL]
    fig, axes = plt.subplots(2, 1, figsize=(15, 9))
    width = 0.8 / len(CHART_METRICS)
    for i, metric in enumerate(CHART_METRICS):
        values = [getattr(primary.summaries[k], metric) for k in kinds]
        xs = [x + i * width for x in range(len(kinds))]
        axes[0].bar(xs, [v if v is not None else 0.0 for v in values], width, label=metric)
    axes[0].set_xticks([x + 0.4 - width / 2 for x in range(len(kinds))], kinds, rotation=20)
    axes[0].set_ylim(0, 1.05)
    axes[0].set_title(f"metrics per kind ({primary.name})")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)

    names = [r.name for r in run.configs]
    for i, metric in enumerate(CHART_METRICS):
        values = [getattr(r.summaries[OVERALL], metric) for r in run.configs]
        xs = [x + i * width for x in range(len(names))]
        axes[1].bar(xs, [v if v is not None else 0.0 for v in values], width, label=metric)
    axes[1].set_xticks([x + 0.4 - width / 2 for x in range(len(names))], names)
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("overall metrics per configuration")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(run: RunResult, directory: Path) -> Path:
    """Write report.md, results.json and the chart into `directory`; returns the report.md path."""
    directory.mkdir(parents=True, exist_ok=True)
    draw_chart(run, directory / CHART_FILE)
    (directory / "results.json").write_text(json.dumps(results_dict(run), ensure_ascii=False, indent=1),
                                            encoding="utf-8")
    report = directory / "report.md"
    report.write_text(render_markdown(run, CHART_FILE), encoding="utf-8")
    return report
