"""The SQLite-backed segmenter cuts exactly as jieba does with its in-memory dictionary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rag import segment

REPO = Path(__file__).resolve().parent.parent

# jieba's own posseg in a clean interpreter: the reference the disk dictionary must reproduce.
REFERENCE = """
import json, logging, sys
import jieba, jieba.posseg
jieba.setLogLevel(logging.WARNING)
jieba.dt.tmp_dir = sys.argv[1]
texts = json.load(sys.stdin)
print(json.dumps([[(w.word, w.flag) for w in jieba.posseg.cut(t)] for t in texts], ensure_ascii=False))
"""


def _all_questions() -> list[str]:
    out = []
    for path in sorted((REPO / "evals").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and (q := json.loads(line).get("question")):
                out.append(str(q))
    # beyond the question sets: Latin words, figures, whitespace, punctuation only, an empty string
    return out + ["GDP增长5.2%，R&D投入 3000 亿元", "  \n", "？！", "", "傅晋华：区域创新"]


def test_cuts_match_jieba_on_every_question_set(tmp_path: Path) -> None:
    texts = _all_questions()
    assert len(texts) > 200
    ref = subprocess.run([sys.executable, "-c", REFERENCE, str(tmp_path)], input=json.dumps(texts),
                         capture_output=True, text=True, check=True, timeout=300)
    expected = [[tuple(p) for p in cut] for cut in json.loads(ref.stdout)]
    got = [segment.cut(t, tmp_path / "cache") for t in texts]
    assert got == expected
    # the module-level jieba.posseg tagger still tags with the real dictionary
    import jieba.posseg

    assert [(w.word, w.flag) for w in jieba.posseg.cut("北京是首都")] == [("北京", "ns"), ("是", "v"), ("首都", "d")]


def test_dictionary_is_built_once_into_the_cache(tmp_path: Path) -> None:
    db = segment._database(tmp_path)
    assert db.parent == tmp_path and db.stat().st_size > 1_000_000
    mtime = db.stat().st_mtime_ns
    assert segment._database(tmp_path) == db and db.stat().st_mtime_ns == mtime
    assert not list(tmp_path.glob("*.tmp"))
