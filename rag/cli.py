"""The `policy-qa` command line: ingest, corpus, search, ask, chat, serve, eval.

Errors become one readable line on stderr and a non-zero exit code (a traceback only with POLICY_QA_DEBUG=1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import ConfigError, InputError, PolicyQAError
from rag.inputs import Request, parse_line
from rag.types import Essay

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a tool stopped by SIGPIPE


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def _batch(question: str) -> Iterator[tuple[int, Request | InputError]]:
    """(line number, request or the reason the line is unusable): one question, or one per stdin line when
    QUESTION is '-'. A bad line is reported by the caller and the batch goes on."""
    if question != "-":
        yield 0, Request(question)
        return
    for n, raw in enumerate(sys.stdin.buffer, 1):
        if not raw.strip():
            continue
        try:
            yield n, parse_line(raw)
        except InputError as exc:
            yield n, exc


def _line_error(args: argparse.Namespace, n: int, exc: InputError, question: str | None = None) -> None:
    """One batch line failed: a JSON error object (stdout with --json, else stderr); the batch continues."""
    obj: dict[str, Any] = {"error": str(exc), "line": n}
    if question is not None:
        obj["question"] = question
    if args.json:
        _print_json(obj)
    else:
        print(json.dumps(obj, ensure_ascii=False), file=sys.stderr, flush=True)


def check_essay(resolve: Any, essays: Sequence[Essay], key: str | None) -> None:
    """An --essay filter that matches nothing is an error listing the essays (rather than an empty or unfiltered
    search)."""
    if key and not resolve(key):
        listed = "；".join(f"{e.id}《{e.title}》" for e in essays)
        raise InputError(f"没有找到文章“{key}”。可选的文章：{listed}")


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """Build or update the index from the seeds or the given paths."""
    from rag.ingest import ingest

    paths = [Path(p) for p in args.paths] or None
    report = ingest(settings, paths, rebuild=args.rebuild, progress=_stderr_progress)  # prints each skip once
    print(report.summary())
    return 0


def _stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_corpus(settings: Settings, args: argparse.Namespace) -> int:
    """Print the essays -> sections -> paragraph counts outline of what is indexed (or, with --source, of the
    corpus folder's files as parsed now)."""
    from rag.datadir import shown

    if args.source:
        from rag.corpus import Limits, load_corpus

        errors: list[str] = []
        essays = load_corpus([settings.corpus], on_error=lambda e: errors.append(str(e)),
                             limits=Limits.from_settings(settings))
        for err in errors:
            print(f"跳过 {err}", file=sys.stderr)
    else:
        from rag.index import open_retriever

        essays = list(open_retriever(settings, progress=_stderr_progress).essays)
    if args.json:
        _print_json([e.to_dict() for e in essays])
        return 0
    for essay in essays:
        print(f"《{essay.title}》 {essay.author}  [{essay.id}] 来源：{shown(essay.source)}")
        if essay.affiliation:
            print(f"  {essay.affiliation}")
        for section in essay.sections:
            print(f"  - {section.title}（{len(section.paragraphs)} 段）")
    return 0


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    """Print ranked passages for each question."""
    from rag.index import open_retriever

    retriever = open_retriever(settings, progress=_stderr_progress)
    check_essay(retriever.resolve_essays, retriever.essays, args.essay)
    status = 0
    for n, req in _batch(args.question):
        try:
            if isinstance(req, InputError):
                raise req
            question = req.question
            check_essay(retriever.resolve_essays, retriever.essays, req.essay)
            hits = retriever.search(question, k=args.k, author=req.author or args.author,
                                    essay=req.essay or args.essay, mode=args.mode)
        except InputError as exc:
            if args.question != "-":
                raise
            status = EXIT_ERROR
            _line_error(args, n, exc, None if isinstance(req, InputError) else req.question)
            continue
        if args.json:
            _print_json({
                "question": question,
                "hits": [
                    {"chunk_id": h.chunk.id, "kind": h.chunk.kind, "author": h.chunk.author, "title": h.chunk.title,
                     "section": h.chunk.section, "text": h.chunk.text, "score": round(h.score, 4)}
                    for h in hits
                ],
            })
            continue
        print(f"问题：{question}")
        for i, h in enumerate(hits, 1):
            print(f"{i}. [{h.score:.3f}] {h.chunk.author}《{h.chunk.title}》·{h.chunk.section}")
            print(f"   {h.chunk.text}")
        print()
    return status


def _history(req: Request) -> list[Any]:
    from rag.types import Turn

    return Turn.list_from(req.history)


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    """Answer each question with citations (a batch follows any ingest that happens while it runs)."""
    from rag.live import LiveAssistant
    from rag.types import Answer, Delta

    assistant = LiveAssistant.from_settings(settings, backend=args.backend, progress=_stderr_progress)
    check_essay(assistant.retriever.resolve_essays, assistant.essays, args.essay)
    status = 0
    for n, req in _batch(args.question):
        try:
            if isinstance(req, InputError):
                raise req
            check_essay(assistant.retriever.resolve_essays, assistant.essays, req.essay)
            author, essay = req.author or args.author, req.essay or args.essay
            if args.json:
                result = assistant.ask(req.question, history=_history(req), author=author, essay=essay)
                _print_json(result.to_dict())
                continue
            final: Answer | None = None
            for event in assistant.stream(req.question, history=_history(req), author=author, essay=essay):
                if isinstance(event, Delta):
                    print(event.text, end="", flush=True)
                else:
                    final = event
            print()
            if final is not None:
                _print_replacement(final)
                print(assistant.render_references(final))
        except InputError as exc:
            if args.question != "-":
                raise
            status = EXIT_ERROR
            _line_error(args, n, exc, None if isinstance(req, InputError) else req.question)
    return status


def _print_replacement(final: Any) -> None:
    """The streamed text failed the checks: say so and print the answer that replaces it."""
    if getattr(final, "replaced", False):
        import prompts

        print(prompts.phrase("replaced_marker"))
        print(final.answer)


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    """A multi-turn conversation in the terminal (line editing, history, /sources /clear /quit)."""
    from rag.answer import Assistant
    from rag.terminal import run_chat

    assistant = Assistant.from_settings(settings, backend=args.backend, progress=_stderr_progress)
    return run_chat(assistant, author=args.author, essay=args.essay, history_file=settings.home / "chat_history")


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Start the browser UI."""
    from ui.app import serve

    serve(settings, host=args.host, port=args.port, allow_remote_without_auth=args.insecure_no_auth)
    return 0


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    """Run the offline evaluation suite."""
    from evals.runner import run

    return run(settings, args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    p = argparse.ArgumentParser(prog="policy-qa", description="政策文章问答：有据可查的中文回答，引用作者与章节。")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="index seeds/ (default) or the given files and folders")
    s.add_argument("paths", nargs="*", help="files or folders (.txt .md .pdf .docx)")
    s.add_argument("--rebuild", action="store_true", help="rebuild the index from scratch (atomic)")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("corpus", help="what is indexed: essays, sources, sections, paragraph counts")
    s.add_argument("--json", action="store_true")
    s.add_argument("--source", action="store_true",
                   help="parse the corpus folder (POLICY_QA_CORPUS) as it is now instead of listing the index")
    s.set_defaults(func=cmd_corpus)

    def filters(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--author", help="only this author's essay, e.g. 王静")
        sp.add_argument("--essay", help="only this essay (id or part of its title)")

    s = sub.add_parser("search", help="ranked passages for a question ('-' reads questions from stdin)")
    s.add_argument("question")
    s.add_argument("-k", type=int, default=None, help="number of hits (default POLICY_QA_TOP_K)")
    s.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    s.add_argument("--json", action="store_true")
    filters(s)
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("ask", help="a cited answer ('-' reads questions from stdin)")
    s.add_argument("question")
    s.add_argument("--backend", choices=("extractive", "openai", "local"), default=None)
    s.add_argument("--json", action="store_true")
    filters(s)
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", help="multi-turn conversation in the terminal (/sources /clear /quit)")
    s.add_argument("--backend", choices=("extractive", "openai", "local"), default=None)
    filters(s)
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("serve", help="the browser UI")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=7860)
    s.add_argument("--insecure-no-auth", action="store_true",
                   help="allow a non-loopback host without POLICY_QA_AUTH (not recommended)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("eval", help="the offline evaluation suite")
    from evals.runner import add_arguments

    add_arguments(s)
    s.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(settings, args))
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as Unix tools do, and keep the interpreter from
        # complaining about the unflushed stdout on exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except PolicyQAError as exc:
        if settings.debug:
            raise
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last resort: one line, never a traceback
        if settings.debug:
            raise
        print(f"内部错误：{type(exc).__name__}: {exc}（设置 POLICY_QA_DEBUG=1 查看详情）", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
