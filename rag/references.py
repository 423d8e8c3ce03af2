"""What a question names in the corpus: authors, essay titles and section titles.

    from rag.references import find_references
    refs = find_references("王成仁老师在《创新驱动产业基础高级化》里怎么说“链主”企业？", essays)
    refs.authors        # ("王成仁",)
    refs.essay_ids      # the id of 王成仁's essay (named by its title)
    refs.scope(essays)  # essay ids the question is about: named by title, or written by a named author
    refs.topic(question)  # the question without the names: what to search for inside that scope

Retrieval restricts a search to `scope` and boosts the named sections (`rag.retrieve.Retriever.search`); the
answer layer can call the same function to plan a question. Only `rag.types` is imported, so any layer may
use it. A name that matches nothing in the corpus is simply not a reference: it never filters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rag.types import Essay

# Words people put after a name when they mean the author ("李晓华老师", "王研究员"): part of the reference.
HONORIFICS = ("副研究员", "特约研究员", "研究员", "老师", "教授", "先生", "女士", "博士", "学者", "同志")
_HONORIFIC = "|".join(HONORIFICS)
# Words that turn a fragment of a title into a reference to the essay ("区域创新那篇", "产业基础高级化一文").
_ESSAY_MARKER = re.compile(r"^(?:的)?(?:这篇|那篇|一篇|篇|一文|文章|文中|这一文|论文)")
_PUNCT = re.compile(r"[\s《》〈〉“”‘’\"'「」『』（）()，,。.、；;：:！!？?·—\-]+")
_QUOTED = re.compile(r"[“\"「『‘]([^”\"」』’]{2,40})[”\"」』’]")
_BOOK = re.compile(r"《([^》]{1,60})》")
# Section titles that name no topic (the parser's placeholders) are never references.
_GENERIC_SECTIONS = frozenset({"引言", "正文", "作者信息", "合成"})
# The shortest title fragment that counts as naming an essay, with a marker after it / without one (then it
# must be most of the title): shorter fragments are ordinary topic words shared by many essays.
MIN_TITLE_PART = 4
MIN_TITLE_SHARE = 0.8
MIN_SECTION_PART = 5  # a clause of a section title this long, found verbatim, names the section
MIN_QUOTE = 6  # a quotation this long found word for word in an essay brings that essay into the scope
_UNKNOWN_AUTHORS = frozenset({"佚名", ""})
# Titles before a romanised surname ("Professor Li"): like 李老师, a reference only when one author fits.
_LATIN_TITLE = r"(?:Professor|Prof\.?|Dr\.?|Mr\.?|Ms\.?|Mrs\.?|Miss|Madam|Researcher)\s+"
_SEP = r"[\s'’\-]*"  # between syllables: "Xiaohua", "Xiao-hua", "Xiao Hua"


def _syllables(ch: str) -> list[str]:
    """The toneless pinyin readings of one Chinese character (all of them: 单 is Shan as a surname), [] if unknown."""
    try:  # ~0.1 s to import: only for a question with Latin letters
        from pypinyin.pinyin_dict import pinyin_dict
    except ImportError:
        return []
    out: list[str] = []
    for reading in pinyin_dict.get(ord(ch), "").split(","):
        bare = "".join(c for c in unicodedata.normalize("NFKD", reading) if not unicodedata.combining(c))
        for form in ({bare, bare.replace("ü", "u"), bare.replace("ü", "v"), bare.replace("ü", "yu")}
                     if "ü" in bare else {bare}):
            if form and form not in out:
                out.append(form)
    return out


def romanised_patterns(author: str) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """Patterns for an author's name written in pinyin (Li Xiaohua, Xiaohua Li, LI Xiao-hua) and for the
    surname alone; None when a character has no known reading. English questions name authors this way."""
    if not re.fullmatch(r"[\u3400-\u9fff]{2,4}", author):
        return None
    readings = [_syllables(ch) for ch in author]
    if not all(readings):
        return None
    alt = ["(?:" + "|".join(sorted(r, key=len, reverse=True)) + ")" for r in readings]
    surname, given = alt[0], _SEP.join(alt[1:])
    full = re.compile(rf"(?<![A-Za-z])(?:{surname}{_SEP}{given}|{given}[\s,]+{surname})(?![A-Za-z])", re.I)
    return full, re.compile(rf"(?<![A-Za-z]){_LATIN_TITLE}{surname}(?![A-Za-z])", re.I)


@dataclass(frozen=True)
class SectionRef:
    """A section the question names: its essay, its position in the essay and its title."""

    essay_id: str
    section_index: int
    title: str


@dataclass(frozen=True)
class References:
    """Authors, essays (by title) and sections a question names, with where in the question it names them."""

    authors: tuple[str, ...] = ()
    essay_ids: tuple[str, ...] = ()  # essays named by (part of) their title
    quoted_ids: tuple[str, ...] = ()  # essays holding a passage the question quotes word for word
    sections: tuple[SectionRef, ...] = ()
    spans: tuple[tuple[int, int], ...] = field(default=(), compare=False)  # [start, end) of each name
    section_spans: tuple[tuple[int, int], ...] = field(default=(), compare=False)  # where sections are named
    author_spans: tuple[tuple[int, int], ...] = field(default=(), compare=False)  # the part of `spans` naming authors

    @property
    def empty(self) -> bool:
        """True when the question names nothing in the corpus."""
        return not (self.authors or self.essay_ids or self.sections)

    def scope(self, essays: Sequence[Essay]) -> tuple[str, ...]:
        """Ids of the essays the question is about (named by title or by author), in corpus order; () = all."""
        if not (self.authors or self.essay_ids):
            return ()
        named = set(self.essay_ids) | set(self.quoted_ids)  # a quotation from elsewhere widens the scope to it
        return tuple(e.id for e in essays if e.id in named or e.author in self.authors)

    def topic(self, question: str, sections: bool = False, authors: bool = True) -> str:
        """The question with the names cut out, for matching text inside the scope (section titles too, if
        `sections`: they are topic words, but without them a question may ask for nothing else; author names
        stay if not `authors`)."""
        out, pos = [], 0
        cut = [x for x in self.spans if authors or x not in self.author_spans]
        for a, b in sorted(cut + list(self.section_spans if sections else ())):
            if a >= pos:
                out.append(question[pos:a])
                out.append(" ")
                pos = b
        out.append(question[pos:])
        return re.sub(r"\s+", " ", "".join(out)).strip()


def find_references(question: str, essays: Sequence[Essay]) -> References:
    """The authors, essays and sections of `essays` that `question` names (see the module docstring)."""
    return ReferenceFinder.for_essays(essays).find(question)


def _norm(text: str) -> str:
    return _PUNCT.sub("", text)


# Post titles after an institution in a byline (西北政法大学教授, 中国国际经济交流中心副研究员).
_POST = re.compile(r"(?:特约|副|助理|首席|高级)?(?:研究员|教授|讲师|主任|所长|院长|副院长|博士生导师|博导|专家|学者)$")
MIN_INSTITUTION = 5  # shorter names (研究所, 研究院) are generic words, not one institution


def institutions(essay: Essay) -> list[str]:
    """The institutions of an essay's byline, posts taken off (中国国际经济交流中心副研究员 → 中国国际经济交流中心)."""
    parts = (_POST.sub("", p.strip()) for p in re.split(r"[、，,；;和]", essay.affiliation or ""))
    return [p for p in parts if len(p) >= MIN_INSTITUTION]


class ReferenceFinder:
    """Precomputed author names and title fragments of one corpus; `find` is cheap per question."""

    def __init__(self, essays: Sequence[Essay]) -> None:
        self.essays = list(essays)
        self._authors = sorted({e.author for e in self.essays if e.author not in _UNKNOWN_AUTHORS
                                and len(e.author) >= 2}, key=len, reverse=True)
        surnames: dict[str, list[str]] = {}
        given: dict[str, list[str]] = {}
        for a in self._authors:
            if len(a) >= 2 and re.fullmatch(r"[\u3400-\u9fff]+", a):
                surnames.setdefault(a[0], []).append(a)
                if len(a) >= 3:
                    given.setdefault(a[1:], []).append(a)
        # "李老师" / "晓华研究员" name an author only when no other author shares that surname / given name
        self._short = {k: v[0] for d in (surnames, given) for k, v in d.items() if len(v) == 1}
        self._latin: list[tuple[str, re.Pattern[str], re.Pattern[str] | None]] | None = None  # built on demand
        # the institutions of each author's byline (西北政法大学, 中国国际经济交流中心): "西北政法大学那位教授" names
        # that author when no other author's byline holds it (dev4.jsonl: 1 of 14 conversations opened that way)
        places: dict[str, set[str]] = {}
        for e in self.essays:
            for place in institutions(e):
                if e.author in self._authors:
                    places.setdefault(place, set()).add(e.author)
        self._institutions = {k: next(iter(v)) for k, v in places.items() if len(v) == 1}
        self._titles = [(e.id, _norm(e.title)) for e in self.essays]
        self._grams: dict[str, set[int]] = {}  # title fragments of MIN_TITLE_PART chars -> essays holding them
        for n, (_id, t) in enumerate(self._titles):
            for i in range(len(t) - MIN_TITLE_PART + 1):
                self._grams.setdefault(t[i : i + MIN_TITLE_PART], set()).add(n)
        self._texts = [(e.id, _norm(e.text)) for e in self.essays]
        clauses = {(e.id, si): [c for c in map(_norm, re.split(r"[，,；;、：:]", s.title)) if len(c) >= MIN_SECTION_PART]
                   for e in self.essays for si, s in enumerate(e.sections)}
        shared: dict[tuple[str, str], int] = {}  # a clause opening several sections of one essay names none of them
        for (eid, _si), cs in clauses.items():
            for c in cs:
                shared[(eid, c)] = shared.get((eid, c), 0) + 1
        self._sections = [
            (e.id, si, s.title, _norm(s.title), [c for c in clauses[(e.id, si)] if shared[(e.id, c)] == 1])
            for e in self.essays for si, s in enumerate(e.sections)
            if s.title not in _GENERIC_SECTIONS and not s.title.endswith("（续）") and len(_norm(s.title)) >= 4
        ]

    @staticmethod
    def for_essays(essays: Sequence[Essay]) -> ReferenceFinder:
        """A finder for these essays, reused while the corpus is the same."""
        return _finder(tuple(essays))

    # -- authors -------------------------------------------------------------------------------------------
    def _find_authors(self, q: str) -> tuple[list[str], list[tuple[int, int]]]:
        found: list[str] = []
        spans: list[tuple[int, int]] = []
        taken = [False] * len(q)

        def claim(matches: Iterable[re.Match[str]], name: str, mark: bool = True) -> None:
            """Record each match not inside an earlier one (a short name's match does not block others)."""
            for m in matches:
                if any(taken[m.start() : m.end()]):
                    continue
                if mark:
                    taken[m.start() : m.end()] = [True] * (m.end() - m.start())
                spans.append((m.start(), m.end()))
                if name not in found:
                    found.append(name)

        for name in self._authors:
            claim(re.finditer(re.escape(name) + f"(?:{_HONORIFIC})?", q), name)
        for short, name in self._short.items():
            claim(re.finditer(re.escape(short) + f"(?:{_HONORIFIC})", q), name, mark=False)
        for place, name in self._institutions.items():
            claim(re.finditer(re.escape(place), q), name, mark=False)
        if re.search(r"[A-Za-z]{2}", q):
            for name, full, titled in self._latin_names():
                for pattern in (full, titled):
                    if pattern is not None:
                        claim(pattern.finditer(q), name)
        return found, spans

    def _latin_names(self) -> list[tuple[str, re.Pattern[str], re.Pattern[str] | None]]:
        """(author, full-name pattern, title + surname pattern or None) for the authors' names in pinyin; the
        surname alone counts only when no other author's surname reads the same (Wang: 王静 and 王成仁)."""
        if self._latin is None:
            built = [(a, p) for a in self._authors if (p := romanised_patterns(a)) is not None]
            readings: dict[str, int] = {}
            for a, _p in built:
                for r in _syllables(a[0]):
                    readings[r] = readings.get(r, 0) + 1
            self._latin = [(a, full, titled if all(readings[r] == 1 for r in _syllables(a[0])) else None)
                           for a, (full, titled) in built]
        return self._latin

    # -- titles --------------------------------------------------------------------------------------------
    def _match_title_text(self, text: str) -> list[int]:
        """Essays whose title equals, contains or is contained in `text` (normalised)."""
        t = _norm(text)
        if len(t) < 2:
            return []
        exact = [n for n, (_i, title) in enumerate(self._titles) if t == title]
        if exact:
            return exact
        return [n for n, (_i, title) in enumerate(self._titles)
                if (len(t) >= MIN_TITLE_PART and t in title) or (len(title) >= MIN_TITLE_PART and title in t)]

    def _find_titles(self, q: str) -> tuple[list[int], list[tuple[int, int]]]:
        found: list[int] = []
        spans: list[tuple[int, int]] = []
        for m in _BOOK.finditer(q):  # 《...》: the strongest signal; a quoted title that matches nothing is ignored
            hits = self._match_title_text(m.group(1))
            if len(hits) == 1 or (hits and _norm(m.group(1)) in {self._titles[n][1] for n in hits}):
                found += [n for n in hits if n not in found]
                spans.append((m.start(), m.end()))
        if found:
            return found, spans
        for n, (_id, title) in enumerate(self._titles):  # a whole title without 《》
            at = q.find(title) if len(title) >= MIN_TITLE_PART else -1
            if at >= 0:
                found.append(n)
                spans.append((at, at + len(title)))
        if found:
            return found, spans
        # a distinctive fragment: the longest stretch of the question that lies inside exactly one title
        best: dict[int, tuple[int, int]] = {}
        i = 0
        while i <= len(q) - MIN_TITLE_PART:
            owners = self._grams.get(q[i : i + MIN_TITLE_PART])
            if not owners:
                i += 1
                continue
            j = i + MIN_TITLE_PART
            while j < len(q) and any(q[i : j + 1] in self._titles[n][1] for n in owners):
                j += 1
            holders = [n for n in owners if q[i:j] in self._titles[n][1]]
            if len(holders) == 1:
                n = holders[0]
                share = (j - i) / len(self._titles[n][1])
                if (_ESSAY_MARKER.match(q[j:]) or share >= MIN_TITLE_SHARE) and (
                        n not in best or j - i > best[n][1] - best[n][0]):
                    best[n] = (i, j)
            i = j if len(holders) == 1 else i + 1
        for n, span in best.items():
            found.append(n)
            spans.append(span)
        return found, spans

    # -- sections ------------------------------------------------------------------------------------------
    def _find_sections(self, q: str, scope: set[str]) -> tuple[list[tuple[str, int, str]], list[tuple[int, int]]]:
        nq = _norm(q)
        found: list[tuple[str, int, str]] = []
        spans: list[tuple[int, int]] = []
        for essay_id, si, title, ntitle, clauses in self._sections:
            if scope and essay_id not in scope:
                continue
            named = [x for x in [title, *clauses] if x in q] + [
                m.group(0) for m in _QUOTED.finditer(q)
                if len(_norm(m.group(1))) >= MIN_TITLE_PART and (_norm(m.group(1)) in ntitle or ntitle in _norm(m.group(1)))]
            if named or ntitle in nq or any(c in nq for c in clauses):
                found.append((essay_id, si, title))
                for x in named:
                    at = q.find(x)
                    spans.append((at, at + len(x)))
        return found, spans

    def find(self, question: str) -> References:
        """The references in one question."""
        q = question.strip()
        if not q or not self.essays:
            return References()
        authors, a_spans = self._find_authors(q)
        title_hits, t_spans = self._find_titles(q)
        essay_ids = tuple(self._titles[n][0] for n in title_hits)
        scope = set(essay_ids) | {e.id for e in self.essays if e.author in authors}
        sections, s_spans = self._find_sections(q, scope)
        quotes = [_norm(m.group(1)) for m in _QUOTED.finditer(q)] if scope else []
        quoted = tuple(eid for eid, text in self._texts if any(len(x) >= MIN_QUOTE and x in text for x in quotes))
        return References(
            authors=tuple(authors),
            essay_ids=essay_ids,
            quoted_ids=quoted,
            sections=tuple(SectionRef(e, si, t) for e, si, t in sections),
            spans=tuple(a_spans + t_spans),
            section_spans=tuple(s_spans),
            author_spans=tuple(a_spans),
        )


@lru_cache(maxsize=8)
def _finder(essays: tuple[Essay, ...]) -> ReferenceFinder:
    return ReferenceFinder(essays)


# A question about who wrote an essay (answered by its byline, not its body text), and words that ask about
# an author's post: those only count when the question names an author or essay ("效率来自哪里" is no
# question about a byline).
BYLINE_QUESTION = re.compile(
    r"谁写|作者是谁|是谁写|哪位作者|作者叫|作者有谁|署名|文章(?:的)?(?:标题|题目)|题目是|标题是|(?:文章|原文)的?(?:出处|来源)|"
    r"写的(?:是)?哪篇|写了哪篇|"
    r"\bwho wrote\b|\bwritten by\b|\baffiliat|\bwho is the author|\bauthor of\b",
    re.IGNORECASE,
)
POST_QUESTION = re.compile(
    r"单位|任职|任教|就职|供职|在哪(?:里|儿|所|个|家)?(?:工作|任职|任教|就职|上班|高就)|职务|职称|头衔|身份|是谁|何人|"
    r"来自(?:哪|什么)|哪所(?:大学|学校|高校)|什么机构|哪个机构|哪家机构|所在机构|是(?:什么|哪里的)(?:人|研究员|教授)|"
    r"\bwork(?:s)? (?:at|for)\b|\binstitution\b|\bwho is\b",
    re.IGNORECASE,
)


def asks_byline(question: str, refs: References | None = None) -> bool:
    """True when the question asks about an essay's author, title or source, or (when it names an author or
    an essay, as `refs` says) about the author's post."""
    if BYLINE_QUESTION.search(question):
        return True
    return refs is not None and bool(refs.authors or refs.essay_ids) and POST_QUESTION.search(question) is not None
