"""The index is derived data: a killed rebuild leaves the old index serving, a damaged one is rebuilt."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from retrieval_fixtures import settings_for

from rag.index import open_retriever
from rag.ingest import ingest
from rag.store import Store

pytestmark = pytest.mark.slow
QUESTION = "中小金融机构准入标准"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "POLICY_QA_"))}
    env.update({"POLICY_QA_HOME": str(home), **extra})
    return env


def test_killed_rebuild_leaves_previous_index_serving(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = settings_for(home)
    ingest(settings, None, rebuild=False)
    before = Store(settings).current()
    assert before is not None

    # A rebuild with another chunk size must embed every chunk again: kill it while it is embedding.
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", "--rebuild"],
        env=_env(home, POLICY_QA_CHUNK_SIZE="90"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if ready:
            line = proc.stderr.readline()
            seen += line
            if "嵌入" in line:
                break
        if proc.poll() is not None:
            break
    assert proc.poll() is None, f"the rebuild finished before it could be killed:\n{seen}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    after = Store(settings).current()
    assert after == before, "the pointer moved to a half-built index"
    hits = open_retriever(settings).search(QUESTION, k=3)
    assert hits and "准入标准" in hits[0].chunk.text

    done = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", "--rebuild"],
                          env=_env(home, POLICY_QA_CHUNK_SIZE="90"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rebuilt = Store(settings).current()
    assert rebuilt is not None and rebuilt.collection != before.collection


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_damaged_index_is_rebuilt_at_startup(tmp_path: Path, damage: str) -> None:
    home = tmp_path / "home"
    settings = settings_for(home, POLICY_QA_EMBEDDINGS="none")
    ingest(settings, None, rebuild=False)
    chroma_dir = settings.index_dir / "chroma"
    assert chroma_dir.is_dir()
    if damage == "missing":
        for f in sorted(chroma_dir.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
    else:
        (chroma_dir / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)

    # a fresh process, as at startup (Chroma caches an open store per process)
    run = subprocess.run([sys.executable, "-m", "rag.cli", "search", QUESTION, "-k", "3", "--json"],
                         env=_env(home, POLICY_QA_EMBEDDINGS="none"), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert ("重建" in run.stderr or "建立索引" in run.stderr) and "Traceback" not in run.stderr
    hits = json.loads(run.stdout)["hits"]
    assert hits and "准入标准" in hits[0]["text"]
