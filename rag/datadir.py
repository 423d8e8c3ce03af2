"""The data folder on disk: its shape, whether it is writable, whether SQLite finds the store intact.

Everything here runs before Chroma touches the files, because Chroma's Rust core panics (a BaseException) or
aborts the process on a damaged database, and cannot open one on a read-only mount at all (it writes on open).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

from rag.config import Settings
from rag.errors import ConfigError, StoreDamagedError, StoreError, StoreReadOnlyError

SQLITE_FILE = "chroma.sqlite3"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_snapshots: dict[Path, Path] = {}
_snapshot_lock = threading.Lock()


def shown(path: Path | str) -> str:
    """A path for messages: control characters (a newline in a file name) escaped, so it stays on one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(path))


def _folder(path: Path, what: str) -> Path:
    """Make sure `path` is a folder (creating it), or say in one sentence what is in the way."""
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise ConfigError(f"{what}需要文件夹 {shown(path)}，但 {shown(p)} 是一个文件；请移走它或换一个 POLICY_QA_HOME。")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise StoreReadOnlyError(f"无法创建文件夹 {shown(path)}：数据文件夹只读或没有写权限（POLICY_QA_HOME）。") from None
    except OSError as exc:
        if exc.errno == 30:  # EROFS
            raise StoreReadOnlyError(f"无法创建文件夹 {shown(path)}：数据文件夹只读（POLICY_QA_HOME）。") from None
        raise StoreError(f"无法创建文件夹 {shown(path)}：{exc.strerror}。") from None
    return path


def check_home(settings: Settings) -> None:
    """POLICY_QA_HOME must be a folder (or not exist yet)."""
    home = settings.home
    if home.exists() and not home.is_dir():
        raise ConfigError(f"POLICY_QA_HOME={shown(home)} 是一个文件，不是文件夹；请把 POLICY_QA_HOME 设为一个文件夹。")


def index_folder(settings: Settings) -> Path:
    """The index folder, created when missing and writable."""
    check_home(settings)
    if settings.index_dir.is_dir():
        return settings.index_dir
    return _folder(settings.index_dir, "索引")


def cache_folder(settings: Settings) -> Path:
    """The cache folder, created when missing and writable."""
    check_home(settings)
    if settings.cache_dir.is_dir():
        return settings.cache_dir
    return _folder(settings.cache_dir, "缓存")


def lock_file(settings: Settings) -> Path:
    """The writers' lock file; a folder in its place is reported rather than crashing the lock."""
    path = index_folder(settings) / "write.lock"
    if path.exists() and not path.is_file():
        raise ConfigError(f"写入锁 {shown(path)} 应当是一个文件，但现在是文件夹；请删除它后重试。")
    return path


def is_read_only(settings: Settings) -> bool:
    """True when the index cannot be written: a read-only mount or a folder without write permission."""
    index = settings.index_dir
    chroma = index / "chroma"
    paths = [p for p in (index, chroma, chroma / SQLITE_FILE) if p.exists()]
    if not paths:
        home = next((p for p in (settings.home, *settings.home.parents) if p.exists()), None)
        return home is not None and not os.access(home, os.W_OK)
    return any(not os.access(p, os.W_OK) for p in paths)


def read_only_message(settings: Settings) -> str:
    """The one sentence a writing command prints on a read-only data folder."""
    return (f"数据文件夹 {shown(settings.home)} 是只读的：可以检索、提问和启动网页（使用现有索引），"
            "但不能写入索引；请在可写的 POLICY_QA_HOME 上运行 ingest。")


def check_sqlite(db: Path) -> None:
    """Run SQLite's quick_check on the store (about 3 ms for the 4 MB seed index); damage raises StoreDamagedError.

    In a test of 12 copies of the seed index with 200 random bytes overwritten, quick_check flagged all 12, while
    Chroma itself panicked, aborted or raised on each of them."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return  # cannot even open read-only (permissions): let Chroma report it
    con.text_factory = lambda b: b.decode("utf-8", "replace")  # damaged pages can name themselves in bad bytes
    try:
        rows = con.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return  # a writer holds the database: it is in use, not damaged
        raise StoreDamagedError(f"索引文件 {shown(db)} 已损坏（{exc}）") from None
    except sqlite3.DatabaseError as exc:
        raise StoreDamagedError(f"索引文件 {shown(db)} 已损坏（{exc}）") from None
    finally:
        con.close()
    if rows != [("ok",)]:
        first = str(rows[0][0]).splitlines()[-1] if rows else "?"
        raise StoreDamagedError(f"索引文件 {shown(db)} 已损坏（SQLite：{first}）")


def read_only_copy(chroma_dir: Path) -> Path:
    """A private writable copy of a read-only store, made once per process (Chroma writes even to read)."""
    with _snapshot_lock:
        if chroma_dir not in _snapshots:
            target = Path(tempfile.mkdtemp(prefix="policy-qa-readonly-")) / "chroma"
            shutil.copytree(chroma_dir, target)
            for p in (target, *target.rglob("*")):
                p.chmod(p.stat().st_mode | 0o200)
            atexit.register(shutil.rmtree, target.parent, True)
            _snapshots[chroma_dir] = target
        return _snapshots[chroma_dir]


def sweep_segments(chroma_dir: Path) -> int:
    """Delete segment folders that no collection references any more (Chroma leaves them behind when it drops a
    collection); call with the write lock held. Returns how many were removed."""
    db = chroma_dir / SQLITE_FILE
    if not db.is_file():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            live = {str(r[0]) for r in con.execute("SELECT id FROM segments")}
        finally:
            con.close()
    except sqlite3.Error:
        return 0  # an unknown layout: leave the files alone
    removed = 0
    for d in chroma_dir.iterdir():
        if d.is_dir() and _UUID.match(d.name) and d.name not in live:
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed
