"""Keyword side of hybrid search: BM25 (bm25s) over Chinese character bigrams or jieba words.

Measured on evals/retrieval_set.jsonl (see evals/bench_retrieval.py): character bigrams beat jieba
words here, because paraphrased questions share two-character fragments with the text more often than
whole dictionary words (jieba splits 准入标准 and 中小金融机构 differently in question and text).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import bm25s
import numpy as np

ANALYZERS = ("bigram", "jieba")
DEFAULT_ANALYZER = "bigram"

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[A-Za-z]+|\d+(?:\.\d+)?")
# Question scaffolding carries no topic: removing it keeps 什么/怎么 bigrams from matching every passage.
_QUESTION_WORDS = re.compile(
    r"为什么|什么样|什么|怎么样|怎么|怎样|如何|哪些|哪个|哪里|哪儿|是否|应该|应当|要不要|有没有|还有|"
    r"文章|作者|认为|提到|指出|谈到|一下|请问|吗|呢|吧"
)
_STOP_WORDS = frozenset("的了是和与及在对把被就也都而并又或等其之这那有为以从向中上下")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# What a request to summarise says besides the essay's name: no topic of its own.
_GENERIC = re.compile(r"主要|内容|观点|核心|中心|思想|主题|概括|总结|归纳|介绍|简述|讲了|讲的|讲|说了|说的|说|谈了|谈的|谈|"
                      r"论述|写了|写的|关于|大意|要点|一文|这篇|那篇|篇|这一部分|那一部分|这部分|那部分|部分|这一节|那一节|本节|一节|小节|章节|"
                      r"这一段|这段|里|中|是|的|了|在|和|与|这|那")


def has_cjk(text: str) -> bool:
    """True when the text contains a Chinese character."""
    return _HAN.search(text) is not None


def is_generic(text: str) -> bool:
    """True when, without question and summary words, fewer than two Chinese characters or Latin letters are left."""
    rest = _GENERIC.sub("", _QUESTION_WORDS.sub("", text))
    return len(re.findall(r"[\u3400-\u9fff\uf900-\ufaffA-Za-z]", rest)) < 2


def bigrams(text: str) -> list[str]:
    """Character bigrams of each CJK run (a lone character stands for itself), plus Latin words and numbers."""
    out: list[str] = []
    for run in _CJK.findall(text):
        if not ("\u3400" <= run[0] <= "\ufaff"):
            out.append(run.lower())
        elif len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@lru_cache(maxsize=1)
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str) -> list[str]:
    """jieba search-mode words without punctuation and function words."""
    jieba = _jieba()
    return [
        w.lower() for w in jieba.lcut_for_search(text)  # type: ignore[attr-defined]
        if w.strip() and _CJK.fullmatch(w) and w not in _STOP_WORDS
    ]


def analyze(text: str, analyzer: str = DEFAULT_ANALYZER, query: bool = False) -> list[str]:
    """Tokens for indexing or (with query=True, question words removed) for searching."""
    if query:
        text = _QUESTION_WORDS.sub(" ", text)
    return bigrams(text) if analyzer == "bigram" else words(text)


class LexicalIndex:
    """BM25 over a fixed list of passages; scores align with the passage order."""

    def __init__(self, texts: Sequence[str], analyzer: str = DEFAULT_ANALYZER,
                 counted: Sequence[bool] | None = None) -> None:
        if analyzer not in ANALYZERS:
            raise ValueError(f"unknown analyzer {analyzer!r}")
        self.analyzer = analyzer
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        self._df: Counter[str] = Counter()
        if texts:
            tokens = [analyze(t, analyzer) or [""] for t in texts]
            self._bm25.index(tokens, show_progress=False)
            # document frequencies for coverage() come from the `counted` texts only (the passages: byline
            # records repeat titles and names, and would shift the weights the coverage boost was tuned with)
            for n, doc in enumerate(texts):
                if counted is None or counted[n]:
                    self._df.update(set(bigrams(doc)))
        self._docs = self.size if counted is None else sum(bool(x) for x in counted)

    def idf(self, gram: str) -> float:
        """Inverse document frequency of a character bigram in this index (unknown bigrams weigh most)."""
        return math.log(1.0 + self._docs / (self._df.get(gram, 0) + 0.5))

    def query_grams(self, query: str) -> set[str]:
        """The question's bigrams without question words, and without Latin words the passages never use (an
        English word in a Chinese question names the language it was asked in, not something missing)."""
        return {g for g in bigrams(_QUESTION_WORDS.sub(" ", query)) if has_cjk(g) or g in self._df}

    def coverage(self, query: str, text: str) -> float:
        """IDF-weighted share of the question's bigrams (question words removed) that occur in `text`."""
        grams = self.query_grams(query)
        if not grams:
            return 0.0
        weights = {g: self.idf(g) for g in grams}
        total = sum(weights.values())
        return sum(w for g, w in weights.items() if g in text) / total if total else 0.0

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when nothing matches)."""
        tokens = analyze(query, self.analyzer, query=True)
        vocab = self._bm25.vocab_dict if self.size else {}
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def top(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k best (passage index, score) pairs with a positive score, optionally only where mask is True."""
        s = self.scores(query)
        if mask is not None:
            s = np.where(mask, s, 0.0)
        k = min(k, int(np.count_nonzero(s > 0)))
        if k <= 0:
            return []
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(int(i), float(s[i])) for i in idx]
