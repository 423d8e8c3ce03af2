"""Serve the packaged local model as an OpenAI-compatible endpoint on 127.0.0.1, to measure the `openai`
backend against a real llama.cpp server (xllamacpp's) rather than the loopback fake of the tests.

    python -m evals.serve_local > /tmp/endpoint.env      # prints OPENAI_BASE_URL=… and OPENAI_API_KEY=…
    env $(cat /tmp/endpoint.env) POLICY_QA_SOURCE_TOKENS=400 policy-qa eval --backend openai

The listener is loopback only, behind a random key, and stops when this process gets Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import signal
import sys
import threading

from rag.config import Settings
from rag.errors import LLMError
from rag.local_llm import start_xllamacpp, threads_for
from rag.model_file import ensure_model_file, model_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default POLICY_QA_LOCAL_THREADS)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    key = secrets.token_urlsafe(24)
    try:
        path = ensure_model_file(model_dir(settings), progress=lambda m: print(m, file=sys.stderr))
        server = start_xllamacpp(path, args.threads or threads_for(settings), api_key=key,
                                 quiet=not settings.debug)
    except LLMError as exc:
        print(exc, file=sys.stderr)
        return 1
    address = str(getattr(server, "listening_address", ""))
    if not address:
        print("xllamacpp reported no listening address", file=sys.stderr)
        return 1
    base = address if address.startswith("http") else f"http://{address}"
    print(f"OPENAI_BASE_URL={base}/v1\nOPENAI_API_KEY={key}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    del server
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
