"""Bounded loopback load test of the web app through its Gradio API (offline, seed essays).

    .venv/bin/python -m evals.load_ui                       # 20 sessions for 60 s, then the overflow burst
    .venv/bin/python -m evals.load_ui --sessions 5 --duration 10 --json reports/load.json

Phase 1: N concurrent `gradio_client` sessions ask questions back to back through `/chat` for D seconds; it reports
requests, errors, busy answers and latency percentiles. Phase 2: a second server whose answers take an extra
simulated second (a slow model endpoint) receives a burst larger than the admission limit at once, over Gradio's
plain HTTP API; the requests beyond the limit must get the busy answer straight away instead of waiting in line. Servers run in child processes on
127.0.0.1 so the clients do not share their interpreter; nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

QUESTIONS = [
    "什么是产业韧性？",
    "新型工业化的高质量发展有哪些特征？",
    "王静认为应如何打造产业创新生态体系？",
    "如何提升区域原始创新能力？",
    "产业基础高级化指的是什么？",
    "李晓华和王成仁对科技创新的作用分别怎么看？",
    "概括傅晋华文章的主要观点。",
    "火星上有没有液态水？",
]


@dataclass
class Result:
    """One request: how long it took and how it ended (answer, busy, error)."""

    latency_s: float
    outcome: str
    detail: str = ""


@dataclass
class Summary:
    """Figures of one phase."""

    phase: str
    sessions: int
    seconds: float
    requests: int
    answered: int
    busy: int
    errors: int
    throughput_per_s: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    busy_p95_ms: float = 0.0
    error_samples: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int, delay_s: float, ready: Any) -> None:
    """Child process: the real offline Assistant (optionally slowed) behind the production launch options."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from rag.answer import Assistant
    from rag.config import Settings
    from rag.types import Answer, Delta
    from ui.app import WARM_UP_QUESTION, build_app, launch, launch_options, warm_up_events

    settings = Settings.from_env()
    assistant = Assistant.from_settings(settings, backend="extractive", progress=lambda m: print(m, file=sys.stderr))
    assistant.ask(WARM_UP_QUESTION)

    class Slowed:
        """The same assistant behind a model endpoint that takes `delay_s` longer."""

        @property
        def essays(self) -> Any:
            return assistant.essays

        def stream(self, question: str, history: Sequence[Any] = (), author: str | None = None,
                   essay: str | None = None) -> Iterator[Delta | Answer]:
            time.sleep(delay_s)
            yield from assistant.stream(question, history=history, author=author, essay=essay)

    demo = build_app(Slowed() if delay_s else assistant, settings)
    url = launch(demo, launch_options(settings, "127.0.0.1", port), block=False)
    warm_up_events(url)  # as `serve` does
    ready.set()
    while True:
        time.sleep(3600)


class Server:
    """A child process serving the app on a free loopback port."""

    def __init__(self, delay_s: float = 0.0) -> None:
        ctx = mp.get_context("spawn")
        self.port = _free_port()
        self.ready = ctx.Event()
        self.proc = ctx.Process(target=_serve, args=(self.port, delay_s, self.ready), daemon=True)

    def __enter__(self) -> str:
        self.proc.start()
        deadline = time.monotonic() + 300
        while not self.ready.wait(0.5):
            if not self.proc.is_alive() or time.monotonic() > deadline:
                self.proc.terminate()
                raise RuntimeError("the app did not start (see the messages above)")
        return f"http://127.0.0.1:{self.port}/"

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.join(10)


def _client(url: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gradio_client import Client

    return Client(url, verbose=False)


def _ask(client: Any, question: str) -> Result:
    t0 = time.perf_counter()
    try:
        out = client.predict(question, api_name="/chat")
    except Exception as exc:  # a load test counts failures instead of stopping at the first
        return Result(time.perf_counter() - t0, "error", f"{type(exc).__name__}: {exc}"[:200])
    elapsed = time.perf_counter() - t0
    if out.get("busy"):
        return Result(elapsed, "busy", out.get("error", ""))
    if out.get("error") and not out.get("answer"):
        return Result(elapsed, "error", out["error"][:200])
    return Result(elapsed, "answered")


def _ask_rest(http: Any, question: str) -> Result:
    """The same `/chat` call over Gradio's plain HTTP API (POST, then read the event stream): a lighter client."""
    from ui.app import chat_api_data

    t0 = time.perf_counter()
    try:
        event_id = http.post("gradio_api/call/chat", json={"data": chat_api_data(question)}).json()["event_id"]
        body = http.get(f"gradio_api/call/chat/{event_id}").text
    except Exception as exc:
        return Result(time.perf_counter() - t0, "error", f"{type(exc).__name__}: {exc}"[:200])
    elapsed = time.perf_counter() - t0
    # a long wait first sends `event: heartbeat` blocks; the answer is the `event: complete` one
    lines = [x for x in body.strip().splitlines() if x.strip()]
    done = [i for i, x in enumerate(lines) if x == "event: complete"]
    if not done or done[-1] + 1 >= len(lines):
        return Result(elapsed, "error", body[:200])
    lines = lines[done[-1]:done[-1] + 2]
    out = json.loads(lines[-1].removeprefix("data:").strip())[0]
    if out.get("busy"):
        return Result(elapsed, "busy", out.get("error", ""))
    return Result(elapsed, "error" if out.get("error") and not out.get("answer") else "answered")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summarize(phase: str, sessions: int, seconds: float, results: list[Result]) -> Summary:
    answered = [r.latency_s * 1000 for r in results if r.outcome == "answered"]
    busy = [r.latency_s * 1000 for r in results if r.outcome == "busy"]
    errors = [r.detail for r in results if r.outcome == "error"]
    return Summary(
        phase=phase, sessions=sessions, seconds=round(seconds, 1), requests=len(results), answered=len(answered),
        busy=len(busy), errors=len(errors), throughput_per_s=round(len(results) / seconds, 2) if seconds else 0.0,
        p50_ms=round(statistics.median(answered), 1) if answered else 0.0, p95_ms=round(_pct(answered, 0.95), 1),
        max_ms=round(max(answered, default=0.0), 1), busy_p95_ms=round(_pct(busy, 0.95), 1),
        error_samples=errors[:5],
    )


def sustained(url: str, sessions: int, duration_s: float) -> Summary:
    """`sessions` clients asking back to back for `duration_s` seconds."""
    clients = [_client(url) for _ in range(sessions)]
    results: list[Result] = []
    lock = threading.Lock()
    start = threading.Barrier(sessions + 1)
    deadline = 0.0

    def run(i: int) -> None:
        start.wait()
        n = i
        while time.monotonic() < deadline:
            r = _ask(clients[i], QUESTIONS[n % len(QUESTIONS)])
            n += 1
            with lock:
                results.append(r)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(sessions)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + duration_s
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join(duration_s + 120)
    return _summarize("sustained", sessions, time.monotonic() - t0, results)


def burst(url: str, size: int) -> Summary:
    """`size` requests released at the same moment (plain HTTP, so the clients themselves release them quickly)."""
    import httpx

    # Building an httpx client costs tens of milliseconds (TLS context): do it before the start line.
    clients = [httpx.Client(base_url=url, timeout=120) for _ in range(size)]
    results: list[Result] = []
    lock = threading.Lock()
    start = threading.Barrier(size + 1)

    def run(i: int) -> None:
        start.wait()
        r = _ask_rest(clients[i], QUESTIONS[i % len(QUESTIONS)])
        with lock:
            results.append(r)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(size)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join(180)
    for c in clients:
        c.close()
    return _summarize("burst", size, time.monotonic() - t0, results)


def _print(s: Summary) -> None:
    print(f"[{s.phase}] {s.sessions} sessions, {s.seconds} s: {s.requests} requests ({s.throughput_per_s}/s), "
          f"answered {s.answered}, busy {s.busy}, errors {s.errors}; answer latency p50 {s.p50_ms} ms, "
          f"p95 {s.p95_ms} ms, max {s.max_ms} ms" + (f"; busy answers p95 {s.busy_p95_ms} ms" if s.busy else ""))
    for e in s.error_samples:
        print(f"    error: {e}")


def main(argv: list[str] | None = None) -> int:
    """Run both phases and print (and optionally write) the figures; exit 1 on any error in phase 1."""
    p = argparse.ArgumentParser(prog="python -m evals.load_ui", description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of sustained load")
    p.add_argument("--burst", type=int, default=40, help="simultaneous requests in the overflow phase (0 skips it)")
    p.add_argument("--burst-delay", type=float, default=1.0, help="simulated extra model latency in the burst (s)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)

    from ui.app import RUNNING, WAITING

    print(f"admission: {RUNNING} answering at once, {WAITING} waiting; beyond that the busy answer", flush=True)
    summaries = []
    with Server() as url:
        summaries.append(sustained(url, args.sessions, args.duration))
    _print(summaries[-1])
    if args.burst:
        with Server(delay_s=args.burst_delay) as url:
            summaries.append(burst(url, args.burst))
        _print(summaries[-1])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(s) for s in summaries], ensure_ascii=False, indent=1))
    return 1 if summaries[0].errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
