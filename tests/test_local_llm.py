"""The local backend: model-file assembly and verification on small fake parts, the chat seam on a fake llama,
and (with the `local` extra installed) one real generation."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.config import Settings
from rag.errors import ConfigError, LLMConfigError, LLMError, LLMStreamError
from rag.local_llm import (
    LocalChatModel,
    XllamaChatModel,
    choose_runtime,
    default_threads,
    load_local_model,
    start_xllamacpp,
    threads_for,
)
from rag.model_file import (
    INSTALL_HINT,
    QWEN_CODER_1_5B,
    ModelSpec,
    PartProvider,
    ensure_model_file,
    installed_parts,
    model_dir,
)

PART_BYTES = [b"GGUF" + bytes(range(256)) * 40, os.urandom(7000), b"\x00tail" * 333]


class Parts:
    """Fake part packages: files in a temporary folder, and a record of which providers were asked."""

    def __init__(self, folder: Path, contents: list[bytes]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = []
        for i, data in enumerate(contents, 1):
            path = folder / f"part{i:02d}.bin"
            path.write_bytes(data)
            self.paths.append(path)
        self.asked: list[int] = []

    def providers(self) -> list[PartProvider]:
        def provider(i: int) -> PartProvider:
            def get_part_path() -> str:
                self.asked.append(i)
                return str(self.paths[i])
            return get_part_path
        return [provider(i) for i in range(len(self.paths))]


def spec_for(contents: list[bytes], sha256: str | None = None) -> ModelSpec:
    whole = b"".join(contents)
    return ModelSpec(
        name="fake-model",
        filename="fake-model.gguf",
        size=len(whole),
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        part_modules=tuple(f"policy_qa_fake_part{i}" for i in range(1, len(contents) + 1)),
    )


@pytest.fixture
def parts(tmp_path: Path) -> Parts:
    return Parts(tmp_path / "site-packages", PART_BYTES)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_assembles_parts_in_order_and_verifies(tmp_path: Path, parts: Parts) -> None:
    spec = spec_for(PART_BYTES)
    messages: list[str] = []
    path = ensure_model_file(tmp_path / "models", spec, parts.providers(), progress=messages.append)
    assert path == tmp_path / "models" / "fake-model.gguf"
    assert path.read_bytes() == b"".join(PART_BYTES)
    assert parts.asked == [0, 1, 2]
    assert (tmp_path / "models" / "fake-model.gguf.verified.json").is_file()
    assert leftovers(tmp_path / "models") == []
    assert any("组装" in m for m in messages)


def test_reuses_a_verified_file_without_touching_the_parts(tmp_path: Path, parts: Parts) -> None:
    spec = spec_for(PART_BYTES)
    first = ensure_model_file(tmp_path / "models", spec, parts.providers())
    parts.asked.clear()
    messages: list[str] = []
    again = ensure_model_file(tmp_path / "models", spec, [], progress=messages.append)
    assert again == first
    assert parts.asked == []
    assert messages == []  # neither assembled nor re-hashed


def test_marker_is_trusted_only_while_size_and_mtime_are_unchanged(tmp_path: Path, parts: Parts) -> None:
    spec = spec_for(PART_BYTES)
    path = ensure_model_file(tmp_path / "models", spec, parts.providers())
    stat = path.stat()
    # same size, same mtime: the marker vouches for it and the file is not hashed again on start-up
    damaged = bytearray(path.read_bytes())
    damaged[10] ^= 0xFF
    path.write_bytes(bytes(damaged))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert ensure_model_file(tmp_path / "models", spec, []) == path
    # a newer mtime: re-hashed, found damaged, reassembled from the parts
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    parts.asked.clear()
    ensure_model_file(tmp_path / "models", spec, parts.providers())
    assert parts.asked == [0, 1, 2]
    assert path.read_bytes() == b"".join(PART_BYTES)


def test_accepts_an_existing_correct_file_without_a_marker(tmp_path: Path, parts: Parts) -> None:
    spec = spec_for(PART_BYTES)
    models = tmp_path / "models"
    models.mkdir()
    (models / spec.filename).write_bytes(b"".join(PART_BYTES))
    messages: list[str] = []
    path = ensure_model_file(models, spec, [], progress=messages.append)
    assert path.read_bytes() == b"".join(PART_BYTES)
    assert any("校验" in m for m in messages)
    assert (models / (spec.filename + ".verified.json")).is_file()


def test_hash_mismatch_is_refused_and_leaves_nothing_behind(tmp_path: Path, parts: Parts) -> None:
    spec = spec_for(PART_BYTES, sha256="0" * 64)
    with pytest.raises(LLMConfigError, match="sha256") as info:
        ensure_model_file(tmp_path / "models", spec, parts.providers())
    assert INSTALL_HINT in str(info.value)
    assert not (tmp_path / "models" / spec.filename).exists()
    assert not (tmp_path / "models" / (spec.filename + ".verified.json")).exists()
    assert leftovers(tmp_path / "models") == []


def test_a_tampered_part_is_refused(tmp_path: Path) -> None:
    spec = spec_for(PART_BYTES)
    tampered = [PART_BYTES[0], bytes(len(PART_BYTES[1])), PART_BYTES[2]]  # same sizes, other bytes
    with pytest.raises(LLMConfigError, match="sha256"):
        ensure_model_file(tmp_path / "models", spec, Parts(tmp_path / "bad", tampered).providers())
    assert not (tmp_path / "models" / spec.filename).exists()


def test_a_missing_or_short_part_is_refused_before_writing(tmp_path: Path, parts: Parts) -> None:
    spec = spec_for(PART_BYTES)
    with pytest.raises(LLMConfigError, match="不完整") as info:
        ensure_model_file(tmp_path / "models", spec, parts.providers()[:2])
    assert INSTALL_HINT in str(info.value)
    parts.paths[1].unlink()
    with pytest.raises(LLMConfigError, match="不存在"):
        ensure_model_file(tmp_path / "models", spec, parts.providers())
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["fake-model.gguf.lock"]


def test_thread_count_comes_from_the_setting_or_the_core_count() -> None:
    assert threads_for(Settings.from_env({"POLICY_QA_LOCAL_THREADS": "1"})) == 1
    assert threads_for(Settings.from_env({})) == default_threads() >= 2
    with pytest.raises(ConfigError, match="POLICY_QA_LOCAL_THREADS"):
        Settings.from_env({"POLICY_QA_LOCAL_THREADS": "many"})


def test_missing_part_packages_name_the_extra() -> None:
    with pytest.raises(LLMConfigError) as info:
        installed_parts(spec_for(PART_BYTES))
    assert INSTALL_HINT in str(info.value)
    assert "policy_qa_fake_part1" in str(info.value)


def test_missing_runtime_names_the_extra_before_any_assembly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail as if not installed
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    settings = Settings.from_env()
    with pytest.raises(LLMConfigError, match="xllamacpp 或 llama-cpp-python") as info:
        load_local_model(settings, parts=[])
    assert INSTALL_HINT in str(info.value)
    assert not model_dir(settings).exists()


class FakeLlama:
    """Stands in for llama_cpp.Llama: queued stream chunks, records each request, one token per character."""

    def __init__(self, pieces: list[str], fail_after: int | None = None, error: Exception | None = None) -> None:
        self.pieces = pieces
        self.fail_after = fail_after
        self.error = error or RuntimeError("decode failed")
        self.requests: list[dict[str, Any]] = []

    def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.requests.append(kwargs)
        if self.fail_after == 0:
            raise self.error
        return self._chunks()

    def _chunks(self) -> Iterator[dict[str, Any]]:
        yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
        for i, piece in enumerate(self.pieces):
            if self.fail_after is not None and i == self.fail_after:
                raise self.error
            yield {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(range(len(text.decode("utf-8"))))


MESSAGES = [{"role": "system", "content": "只根据资料回答。"}, {"role": "user", "content": "问题"}]


def test_streams_pieces_and_records_usage() -> None:
    llama = FakeLlama(["新型", "工业化", "[1]。"])
    model = LocalChatModel(llama)
    assert (model.backend, model.model) == ("local", QWEN_CODER_1_5B.name)
    assert list(model.stream(MESSAGES, max_tokens=64)) == ["新型", "工业化", "[1]。"]
    request = llama.requests[0]
    assert request["stream"] is True and request["max_tokens"] == 64
    assert request["messages"] == MESSAGES
    assert model.last_usage["completion_tokens"] == len("新型工业化[1]。")
    assert model.last_usage["prompt_tokens"] > len("只根据资料回答。问题")
    assert model.last_usage["total_tokens"] == model.last_usage["prompt_tokens"] + len("新型工业化[1]。")


def test_a_broken_stream_keeps_the_partial_answer_and_frees_the_model() -> None:
    llama = FakeLlama(["一是", "二是", "三是"], fail_after=2)
    model = LocalChatModel(llama)
    received: list[str] = []
    with pytest.raises(LLMStreamError) as info:
        for piece in model.stream(MESSAGES, max_tokens=64):
            received.append(piece)
    assert received == ["一是", "二是"]
    assert info.value.partial == "一是二是"
    llama.fail_after = None
    assert "".join(model.stream(MESSAGES, max_tokens=64)) == "一是二是三是"


def test_context_overflow_is_a_clear_message() -> None:
    error = ValueError("Requested tokens (5000) exceed context window of 4096")
    model = LocalChatModel(FakeLlama([], fail_after=0, error=error))
    with pytest.raises(LLMError, match="上下文长度"):
        list(model.stream(MESSAGES, max_tokens=64))


def test_a_second_caller_waits_for_the_first_then_times_out() -> None:
    model = LocalChatModel(FakeLlama(["甲", "乙"]), busy_timeout=0.05)
    first = model.stream(MESSAGES, max_tokens=8)
    assert next(first) == "甲"  # the first generation holds the model
    with pytest.raises(LLMError, match="正忙"):
        list(model.stream(MESSAGES, max_tokens=8))
    first.close()  # an abandoned stream hands the model back
    assert "".join(model.stream(MESSAGES, max_tokens=8)) == "甲乙"


def test_usage_is_kept_per_thread() -> None:
    llama = FakeLlama(["一二三"])
    model = LocalChatModel(llama)
    list(model.stream(MESSAGES, max_tokens=8))
    other: dict[str, int] = {}

    def elsewhere() -> None:
        llama.pieces = ["一"]
        list(model.stream(MESSAGES, max_tokens=8))
        other.update(model.last_usage)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert other["completion_tokens"] == 1
    assert model.last_usage["completion_tokens"] == 3


# --- the real model (needs `pip install -e '.[local]'`; about 1.1 GB written to a temporary folder) ---

def _parts_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in QWEN_CODER_1_5B.part_modules)


@pytest.fixture(scope="module")
def real_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChatModel | XllamaChatModel]:
    if importlib.util.find_spec("xllamacpp") is None and importlib.util.find_spec("llama_cpp") is None:
        pytest.skip(f"no local runtime is installed ({INSTALL_HINT})")
    if not _parts_installed():
        pytest.skip(f"the model part packages are not installed ({INSTALL_HINT})")
    settings = Settings(home=tmp_path_factory.mktemp("local-llm-home"))
    # one thread: two spin-waiting threads crawl when the machine is busy with other work (CI)
    model = load_local_model(settings, n_threads=1)
    yield model
    close = getattr(model, "close", None)
    if callable(close):
        close()
    shutil.rmtree(model_dir(settings))  # pytest keeps old temporary folders: do not leave 1.1 GB in each


@pytest.mark.local_llm
@pytest.mark.slow
def test_real_model_answers_from_the_source_in_chinese(real_model: LocalChatModel | XllamaChatModel) -> None:
    messages = [
        {"role": "system", "content": "你是问答助手，只根据给出的资料用中文简短回答。"},
        {"role": "user", "content": "资料[1]：新型工业化的重要特征是科技创新引领。\n\n"
                                    "问题：根据资料，新型工业化的重要特征是什么？回答后标注来源编号。"},
    ]
    pieces = list(real_model.stream(messages, max_tokens=32))
    answer = "".join(pieces)
    assert len(pieces) > 1  # streamed, not one block
    assert "科技创新" in answer
    assert real_model.last_usage["prompt_tokens"] > 20
    assert 0 < real_model.last_usage["completion_tokens"] <= 32


@pytest.mark.local_llm
@pytest.mark.slow
def test_real_runtime_listens_on_loopback_only_and_stops(real_model: LocalChatModel | XllamaChatModel) -> None:
    if not isinstance(real_model, XllamaChatModel):
        pytest.skip("llama-cpp-python opens no listener")
    address = real_model._server.listening_address
    assert address.startswith("http://127.0.0.1:")
    port = int(address.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:  # it is there, on loopback
        conn.sendall(b"GET /v1/models HTTP/1.0\r\n\r\n")
        assert b"401" in conn.recv(200)  # and it wants the key that never leaves the process
    assert real_model.last_usage == {} or "estimated" not in real_model.last_usage


# --- the xllamacpp runtime, with a stand-in for its Server ---

class FakeXServer:
    """Stands in for xllamacpp.Server: calls the callback with OpenAI-shaped chunks; records each request."""

    listening_address = "http://127.0.0.1:45678"

    def __init__(self, pieces: list[str], fail: Exception | None = None, error_chunk: str = "") -> None:
        self.pieces = pieces
        self.fail = fail
        self.error_chunk = error_chunk
        self.requests: list[dict[str, Any]] = []
        self.stopped_after: int | None = None

    def handle_chat_completions(self, request: dict[str, Any], callback: Any) -> None:
        self.requests.append(request)
        if self.error_chunk:
            callback({"error": {"message": self.error_chunk}})
            return
        callback({"choices": [{"delta": {"role": "assistant", "content": None}, "finish_reason": None}]})
        for i, piece in enumerate(self.pieces):
            time.sleep(0.002)  # a real runtime takes time per token: the reader can leave mid-answer
            if self.fail is not None and i == 1:
                raise self.fail
            if callback({"choices": [{"delta": {"content": piece}, "finish_reason": None}]}):
                self.stopped_after = i + 1
                return
        callback({"choices": [{"delta": {}, "finish_reason": "stop"}]})
        callback({"choices": [], "usage": {"prompt_tokens": 120, "completion_tokens": len(self.pieces),
                                           "total_tokens": 120 + len(self.pieces),
                                           "prompt_tokens_details": {"cached_tokens": 100}}})


def test_xllamacpp_streams_and_records_the_runtimes_usage() -> None:
    server = FakeXServer(["新型", "工业化", "[1]。"])
    model = XllamaChatModel(server)
    assert model.backend == "local" and model.cheap is False
    assert list(model.stream(MESSAGES, max_tokens=64)) == ["新型", "工业化", "[1]。"]
    request = server.requests[0]
    assert request["stream"] is True and request["max_tokens"] == 64 and request["cache_prompt"] is True
    assert request["stream_options"] == {"include_usage": True} and request["temperature"] == 0.0
    assert model.last_usage == {"prompt_tokens": 120, "completion_tokens": 3, "total_tokens": 123,
                                "cached_tokens": 100}


def test_xllamacpp_stops_generating_when_the_reader_goes_away() -> None:
    server = FakeXServer([str(i) for i in range(50)])
    model = XllamaChatModel(server)
    stream = model.stream(MESSAGES, max_tokens=64)
    assert next(stream) == "0"
    stream.close()
    assert server.stopped_after is not None and server.stopped_after < 50
    assert "".join(XllamaChatModel(FakeXServer(["甲", "乙"])).stream(MESSAGES, max_tokens=8)) == "甲乙"
    assert list(model.stream(MESSAGES, max_tokens=8))  # the model was handed back


def test_xllamacpp_failures_keep_the_partial_answer_or_say_what_is_wrong() -> None:
    model = XllamaChatModel(FakeXServer(["一是", "二是"], fail=RuntimeError("decode failed")))
    with pytest.raises(LLMStreamError) as info:
        list(model.stream(MESSAGES, max_tokens=8))
    assert info.value.partial == "一是"
    overflow = XllamaChatModel(FakeXServer([], error_chunk="the request exceeds the available context size"))
    with pytest.raises(LLMError, match="上下文长度"):
        list(overflow.stream(MESSAGES, max_tokens=8))
    model.close()
    with pytest.raises(LLMError, match="已关闭"):
        list(model.stream(MESSAGES, max_tokens=8))


class FakeXllamacpp:
    """Stands in for the xllamacpp module: records the parameters the server is started with."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.params: Any = None

    class CommonParams:
        def __init__(self) -> None:
            self.model = type("M", (), {})()
            self.cpuparams = type("C", (), {})()
            self.cpuparams_batch = type("C", (), {})()

    def Server(self, params: Any) -> Any:  # noqa: N802 - the runtime's name
        self.params = params
        return type("S", (), {"listening_address": self.address})()


def test_the_runtime_is_started_on_loopback_behind_a_key_and_quiet(tmp_path: Path) -> None:
    fake = FakeXllamacpp("http://127.0.0.1:40000")
    start_xllamacpp(tmp_path / "m.gguf", 2, fake)
    p = fake.params
    assert p.hostnames == ["127.0.0.1"] and p.port == 0 and len(p.api_keys[0]) >= 24
    assert p.n_parallel == 1 and p.cache_prompt is True and p.ui is False and p.verbosity == -1
    assert (p.cpuparams.n_threads, p.cpuparams_batch.n_threads) == (2, 2)
    with pytest.raises(LLMError, match="非本机地址"):
        start_xllamacpp(tmp_path / "m.gguf", 2, FakeXllamacpp("http://0.0.0.0:40000"))


def test_runtime_choice_prefers_what_is_asked_then_what_is_installed() -> None:
    assert choose_runtime("xllamacpp") == "xllamacpp" and choose_runtime("llama-cpp") == "llama-cpp"
    installed = [n for n in ("llama_cpp", "xllamacpp") if importlib.util.find_spec(n) is not None]
    if installed:
        assert choose_runtime("auto") == ("llama-cpp" if "llama_cpp" in installed else "xllamacpp")
