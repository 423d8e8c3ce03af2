"""Shared retrieval fixtures: a seed index built once per session, a network guard, small corpora.

Registered as a plugin in conftest.py, so its fixtures are shared by every module; import helpers directly.
"""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rag.config import Settings
from rag.index import open_retriever
from rag.ingest import ingest
from rag.retrieve import Retriever

REPO = Path(__file__).resolve().parent.parent
SEED_PAGE = REPO / "seeds" / "000_c8df1a2c8d7c4acd.txt"

TINY_ESSAY = """绿色工厂建设的几点思考

张三

推进绿色制造，是实现工业高质量发展的必然选择。绿色工厂通过节能降耗减少排放，还能提升企业的市场竞争力。

循环利用是绿色工厂的关键环节。企业应当建立废旧物资回收体系，提高资源的综合利用效率；同时推广清洁生产技术。

数字技术为绿色转型赋能。通过能耗在线监测平台，工厂可以实时掌握用能情况，及时发现浪费。
"""


def settings_for(home: Path, **env: str) -> Settings:
    """Settings read from an explicit environment: only POLICY_QA_HOME plus the given variables."""
    return Settings.from_env({"POLICY_QA_HOME": str(home), **env})


# -- network guard: an audit hook that refuses any non-loopback socket connection while armed -----------------
_armed: list[list[Any]] = []  # a stack of recorders; the hook raises while any is present
_LOOPBACK = ("127.", "::1", "localhost", "0:0:0:0:0:0:0:1")


def _is_loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host.startswith(_LOOPBACK) or host == "::ffff:127.0.0.1"
    return isinstance(address, str | bytes)  # AF_UNIX paths are local


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _armed or event not in ("socket.connect", "socket.getaddrinfo"):
        return
    target = args[1] if event == "socket.connect" else (args[0], args[1])
    if event == "socket.getaddrinfo" and str(args[0]) in ("localhost", "127.0.0.1", "::1", "None"):
        return
    if event == "socket.getaddrinfo" or not _is_loopback(target):
        _armed[-1].append((event, target))
        raise ConnectionRefusedError(f"network guard: non-loopback access blocked: {event} {target!r}")


_hook_installed = False


@contextmanager
def network_guard() -> Iterator[list[Any]]:
    """While active, a non-loopback connect (or an outside name lookup) raises and is recorded."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # audit hooks cannot be removed: it stays, disarmed, for the session
        _hook_installed = True
    attempts: list[Any] = []
    _armed.append(attempts)
    try:
        yield attempts
    finally:
        _armed.pop()


@pytest.fixture
def no_network() -> Iterator[list[Any]]:
    """Fail the test if anything tries to reach a non-loopback address."""
    with network_guard() as attempts:
        yield attempts
    assert not attempts, f"non-loopback network access attempted: {attempts}"


def probe_outside_connect() -> None:
    """Try to connect to a documentation-range address (TEST-NET-1): the guard must stop it first."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.2)
    try:
        s.connect(("192.0.2.1", 80))
    finally:
        s.close()


# -- the seed index, built once per session ---------------------------------------------------------------
@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose home holds an index of the seed page (and a warm embedding cache)."""
    home = tmp_path_factory.mktemp("seed-home")
    settings = settings_for(home, POLICY_QA_CORPUS=str(SEED_PAGE))
    with network_guard() as attempts:
        ingest(settings, [SEED_PAGE], rebuild=False)
    assert not attempts, attempts
    return settings


@pytest.fixture(scope="session")
def seed_retriever(seed_settings: Settings) -> Retriever:
    """A Retriever over the seed index (read-only: do not ingest into its home)."""
    return open_retriever(seed_settings)


def warm_home(home: Path, seed_settings: Settings) -> Path:
    """A fresh home whose embedding cache is copied from the seed session home, so seed chunks are not re-embedded."""
    cache = home / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    src = seed_settings.cache_dir / "embeddings.sqlite"
    if src.is_file():
        shutil.copy(src, cache / "embeddings.sqlite")
    return home


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """A folder with one short essay (three paragraphs): fast to embed."""
    folder = tmp_path / "tiny-corpus"
    folder.mkdir()
    (folder / "green.txt").write_text(TINY_ESSAY, encoding="utf-8")
    return folder
