"""Citations in code, not in the model: `[n]` markers map to retrieved chunks, unknown markers are dropped,
cited sentences are checked against their passages, and dangerous markup never leaves the answer layer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.types import Chunk, Citation

# Lexical support: share of the sentence's character bigrams found in the cited passages (after dropping an
# attribution such as “李晓华指出”). Measured (tests/test_citations.py, tests/test_answer_seed.py): verbatim quotes
# score 1.0; hand-written faithful paraphrases 0.39-0.91 on the test corpus and 0.65-1.0 on the seed essays;
# the same sentences against an unrelated passage 0.0-0.23. Against the most similar passage of another essay
# a paraphrase can reach 0.59, so the check catches citations of unrelated passages, not of near-duplicates.
SUPPORT_THRESHOLD = 0.35

_MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*)\]")
_ALT_MARKER = re.compile(r"[【［\[]\s*(?:资料|来源|source)?\s*(\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*)\s*[】］\]]", re.I)
_URL_CHARS = r"[A-Za-z0-9._~:/?#@!$&'()*+,;=%\-]"
_SCRIPT = re.compile(r"<\s*(script|style)\b.*?(<\s*/\s*\1\s*>|$)", re.I | re.S)
_TAG = re.compile(r"<\s*/?\s*[A-Za-z!][^<>]*>", re.S)
_HANDLER = re.compile(r"\bon[a-z]{2,20}\s*=", re.I)
_JS_SCHEME = re.compile(r"(?:java|vb)\s*script\s*:|data\s*:\s*text/html", re.I)
_IMAGE = re.compile(r"!\[[^\]\n]*\]\s*(\([^)\n]*\)|\[[^\]\n]*\])")
_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\n]*)\)")
_LINK_DEF = re.compile(rf"\[[^\]\n]+\]:\s*https?://{_URL_CHARS}*", re.I)
_BARE_URL_IMG = re.compile(rf"https?://{_URL_CHARS}+?\.(?:png|jpe?g|gif|svg|webp)\b{_URL_CHARS}*", re.I)
_SENT_END = "。！？!?；;\n"
# Sentences of a passage that are not content: orders addressed to an assistant (a poisoned document) or encoded
# payloads. They are never quoted and never count as support for a claim.
NOT_CONTENT = re.compile(
    r"(忽略|无视|忘记|忘掉)[^。]{0,10}(指令|规则|要求|提示|设定)|ignore\s+(all|previous|the)?\s*instructions|"
    r"system\s*prompt|系统提示|(回答|输出|回复|打印)\s*[A-Za-z]{4,}|[A-Za-z0-9+/]{24,}={0,2}", re.I)


def content_of(passage: str) -> str:
    """The passage without its non-content sentences."""
    return "".join(p for p in re.split(r"(?<=[。！？!?；;\n])", passage) if not NOT_CONTENT.search(p))


def sanitize(text: str) -> str:
    """Remove scripts, HTML tags, event handlers, javascript: links and Markdown images/links from model output."""
    text = _SCRIPT.sub("", text)
    text = _TAG.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _LINK_DEF.sub("", text)
    text = _BARE_URL_IMG.sub("", text)
    text = _HANDLER.sub("", text)
    return _JS_SCHEME.sub("", text)


def _expand(spec: str) -> list[int]:
    nums: list[int] = []
    for part in re.split(r"\s*[,，、]\s*", spec):
        bounds = re.split(r"\s*[\-–~]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            if 0 < hi - lo < 10:
                nums.extend(range(lo, hi + 1))
                continue
        nums.extend(int(b) for b in bounds if b.isdigit())
    return nums


class MarkerMap:
    """Maps the prompt's source numbers to display numbers in order of first citation; unknown numbers vanish."""

    def __init__(self, sources: Sequence[Chunk]) -> None:
        self.sources = list(sources)
        self.display: dict[int, int] = {}  # source number -> display number

    def apply(self, text: str) -> str:
        """Rewrite every marker in `text` (call on growing prefixes: numbering is stable)."""
        text = _ALT_MARKER.sub(lambda m: f"[{m.group(1)}]", text)

        def repl(m: re.Match[str]) -> str:
            out = []
            for src in _expand(m.group(1)):
                if not 1 <= src <= len(self.sources):
                    continue
                n = self.display.setdefault(src, len(self.display) + 1)
                marker = f"[{n}]"
                if marker not in out:
                    out.append(marker)
            return "".join(out)

        return _MARKER.sub(repl, text)

    def cited(self) -> list[tuple[int, Chunk]]:
        """(display number, chunk) for every source cited so far, in display order."""
        return sorted(((n, self.sources[src - 1]) for src, n in self.display.items()), key=lambda p: p[0])


def _unclosed(text: str, opener: str, closer: str) -> int:
    i = text.rfind(opener)
    return i if i >= 0 and text.find(closer, i) < 0 else -1


def safe_cut(raw: str) -> int:
    """How much of a growing model output can be cleaned and shown now without splitting a marker or tag."""
    ends = [raw.rfind(c) for c in "。！？；\n"]  # not ASCII ! or ?: they open images and query strings
    cut = max(ends) + 1 if max(ends) >= 0 else 0
    head = raw[:cut]
    for opener, closer in (("<", ">"), ("[", "]"), ("【", "】"), ("［", "］"), ("](", ")")):
        i = _unclosed(head, opener, closer)
        if i >= 0:
            if opener == "](":  # cut before the link text's "[" (and an image's "!")
                i = max(head.rfind("[", 0, i), 0)
            head = head[:i]
    head = head.removesuffix("!")
    low = head.lower()
    for tag in ("script", "style"):
        i = low.rfind("<" + tag)
        if i >= 0 and low.find("</" + tag, i) < 0:
            head = head[:i]
            low = low[:i]
    if head.endswith("]"):  # a link target may still follow
        j = head.rfind("[")
        head = head[:j] if j >= 0 else head
    return len(head)


class StreamCleaner:
    """Turns raw streamed model text into clean, renumbered deltas that are prefixes of the final answer."""

    def __init__(self, sources: Sequence[Chunk]) -> None:
        self.markers = MarkerMap(sources)
        self.raw = ""
        self.emitted = ""

    def feed(self, delta: str) -> str:
        """Add raw text; return the newly showable clean text (may be empty)."""
        self.raw += delta
        cut = safe_cut(self.raw)
        clean = self.markers.apply(sanitize(self.raw[:cut]))
        if not clean.startswith(self.emitted) or len(clean) <= len(self.emitted):
            return ""
        new = clean[len(self.emitted):]
        self.emitted = clean
        return new

    def finish(self) -> str:
        """Flush everything: the remaining clean text."""
        clean = self.markers.apply(sanitize(self.raw))
        # prefix-stable cleaning always extends what was shown; the final text stays authoritative anyway
        new = clean[len(self.emitted):] if clean.startswith(self.emitted) else ""
        self.emitted = clean
        return new


def strip_markers(text: str) -> str:
    """The text without citation markers."""
    return _MARKER.sub("", text)


def split_marked(text: str, keep_newlines: bool = False) -> list[str]:
    """The raw sentences of an answer, each with the markers right after its full stop (and, with
    `keep_newlines`, the line breaks after it, so that joining the parts gives the text back)."""
    parts: list[str] = []
    buf = ""
    i = 0
    while i < len(text):
        ch = text[i]
        buf += ch
        i += 1
        if ch in _SENT_END:
            while m := _MARKER.match(text, i):  # markers right after the full stop belong to this sentence
                buf += m.group(0)
                i = m.end()
            while keep_newlines and i < len(text) and text[i] == "\n" and ch != "\n":
                buf += "\n"
                i += 1
            parts.append(buf)
            buf = ""
    if buf.strip() or (keep_newlines and buf):
        parts.append(buf)
    return parts


def split_cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Split an answer into sentences with the display numbers each one cites (markers after a stop count)."""
    out = []
    for p in split_marked(text):
        nums = [n for m in _MARKER.finditer(p) for n in _expand(m.group(1))]
        body = strip_markers(p).strip()
        if body:
            out.append((body, nums))
    return out


def _grams(text: str) -> set[str]:
    s = re.sub(r"[^\w]", "", text)
    s = re.sub(r"[_\s]", "", s)
    return {s[i:i + 2] for i in range(len(s) - 1)} if len(s) > 1 else ({s} if s else set())


_BOILERPLATE = re.compile(
    r"^(?:[^，。]{0,24}?(?:指出|认为|强调|提出|写道|谈到|表示|主张|提到|看来)[：:，,]?|根据[^，。]{0,30}[，,：:]|"
    r"此外|另外|同时|其次|首先|最后|总之|因此|具体而言|具体来说|文章|作者)",
)


def support(sentence: str, passages: Sequence[str]) -> float:
    """Share of the sentence's character bigrams (after its attribution phrase) found in the passages."""
    body = _BOILERPLATE.sub("", strip_markers(sentence).strip())
    grams = _grams(body)
    if not grams:
        return 1.0
    pool: set[str] = set()
    for p in passages:
        pool |= _grams(content_of(p))
    return len(grams & pool) / len(grams)


def cite_uncited(text: str, markers: MarkerMap, threshold: float = SUPPORT_THRESHOLD) -> str:
    """Give each uncited sentence a marker for the source that best supports it, when one does.

    Small models often drop the [n] markers: the citation is then found in code, by the same lexical support
    measure that checks the model's own citations, so no claim is left unattributed.
    """
    out = []
    for body, nums in split_cited_sentences(text):
        if nums:
            out.append(body + "".join(f"[{n}]" for n in dict.fromkeys(nums)))
            continue
        scores = [support(body, [c.text]) for c in markers.sources]
        best = max(range(len(scores)), key=scores.__getitem__, default=-1)
        if best >= 0 and scores[best] >= threshold:
            n = markers.display.setdefault(best + 1, len(markers.display) + 1)
            out.append(f"{body}[{n}]")
        else:
            out.append(body)
    return "".join(out)


@dataclass(frozen=True)
class Checked:
    """An answer after citation mapping and support checks."""

    text: str
    citations: list[Citation]


def check(text: str, cited: Sequence[tuple[int, Chunk]], threshold: float = SUPPORT_THRESHOLD) -> Checked:
    """Build Citation objects for the cited sources, marking those whose citing sentences lack support."""
    by_n = dict(cited)
    sentences: dict[int, list[str]] = {n: [] for n in by_n}
    ok: dict[int, bool] = dict.fromkeys(by_n, True)
    for body, nums in split_cited_sentences(text):
        nums = [n for n in dict.fromkeys(nums) if n in by_n]
        if not nums:
            continue
        score = support(body, [by_n[n].text for n in nums])
        for n in nums:
            sentences[n].append(body)
            if score < threshold:
                ok[n] = False
    citations = [
        Citation(n=n, chunk=by_n[n], supported=ok[n], sentences=tuple(sentences[n]))
        for n in sorted(by_n) if sentences[n]
    ]
    return Checked(text=text, citations=citations)


def render_references(citations: Sequence[Citation], unsupported_marker: str = "（未核实）") -> str:
    """The plain-text reference list of the cited sources only."""
    if not citations:
        return ""
    lines = ["参考来源："]
    for c in citations:
        flag = "" if c.supported else f" {unsupported_marker}"
        lines.append(f"[{c.n}] {c.chunk.label}{flag}")
    return "\n".join(lines)
