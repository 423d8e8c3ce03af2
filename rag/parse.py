"""Text layout -> essays: a newspaper page, a plain text or a Markdown document parsed into title, author,
affiliation and sections of clean paragraphs.

The seed page is text extracted from a newspaper theory page. It is hard-wrapped at the column width, has
blank lines between wrapped lines, doubled titles and bylines, justification spaces between Chinese characters
and an `（作者系……）` line per essay. `parse_page` undoes that damage; `parse_plain` and `parse_markdown` read
other documents with best-effort title, author and section detection. Reading the files is rag/corpus.py's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.lists import ORDINAL_LEAD
from rag.types import Essay, Section

OPENING_TITLE = "引言"
BODY_TITLE = "正文"
UNKNOWN_AUTHOR = "佚名"

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef\u2014\u2018\u2019\u201c\u201d\u2026\u00b7"
_WIDE = f"[{_HAN}{_CJK_PUNCT}]"
# whitespace next to a Chinese character or Chinese punctuation is justification damage, never meaningful
_SPACE_NEAR_WIDE = re.compile(rf"(?<={_WIDE})[ \t\u00a0\u3000]+|[ \t\u00a0\u3000]+(?={_WIDE})")
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad]")
_TERMINAL = tuple("。！？；…”’）」』")
_SENTENCE_PUNCT = re.compile("[。！？；，、：]")
_AFFILIATION = re.compile(r"^[（(]\s*作者(?:系|为|单位[:：]?)")
_NAME = re.compile(rf"^[{_HAN}·]{{2,5}}$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_BYLINE = re.compile(r"^(?:作者|文|撰文|作者姓名)\s*[:：|｜/]\s*(.+)$")

_NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def name_title(stem: str) -> str:
    """A title or id made from a file name: control characters (a newline in the name) become one space."""
    return re.sub(r"\s+", " ", _NAME_CONTROL.sub(" ", stem)).strip() or "untitled"


def _stem(source: str) -> str:
    return name_title(Path(source).stem)


def clean_text(text: str) -> str:
    """Normalise one line or paragraph: NFC, no invisible characters, no justification spaces near Chinese."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = _SPACE_NEAR_WIDE.sub("", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def undouble(text: str) -> str:
    """`李晓华李晓华` -> `李晓华`: extraction printed some titles and bylines twice."""
    n = len(text)
    if n >= 4 and n % 2 == 0 and text[: n // 2] == text[n // 2 :]:
        return text[: n // 2]
    return text


def _width(line: str) -> float:
    """Approximate printed width in character cells: Chinese characters are one, punctuation (which the
    page compresses) and half-width characters one half."""
    return sum(1.0 if re.match(f"[{_HAN}]", ch) else 0.5 for ch in line)


def _join(left: str, right: str) -> str:
    """Join two wrapped line fragments; only Latin words broken at a line end get a space between them."""
    if left and right and left[-1].isascii() and left[-1].isalnum() and right[0].isascii() and right[0].isalnum():
        return f"{left} {right}"
    return left + right


def _ends_sentence(line: str) -> bool:
    return line.endswith(_TERMINAL)


def _is_heading(line: str) -> bool:
    """A stand-alone heading: short, no sentence punctuation."""
    return 2 <= len(line) <= 30 and not _SENTENCE_PUNCT.search(line) and not _ends_sentence(line)


def _is_name(line: str) -> bool:
    return bool(_NAME.match(undouble(line)))


@dataclass
class _Block:
    """A paragraph or a heading while parsing."""

    text: str
    heading: bool = False


def _column(widths: Sequence[float], i: int) -> float:
    """The local column width around line i (the page mixes narrow and wide columns): a high percentile of
    the nearby line widths, since paragraph ends, headings and indented first lines are all shorter."""
    window = sorted(w for w in widths[max(0, i - 8) : i + 9] if w > 0)
    return window[int(0.8 * (len(window) - 1))] if window else widths[i]


def _paragraphs(lines: Sequence[str]) -> list[_Block]:
    """Re-flow hard-wrapped lines into paragraphs and stand-alone headings.

    Extraction lost the first-line indent, which survives only as a line two cells short of the column. So a
    paragraph ends on sentence punctuation where that line is short of the column or the next line is; a
    heading is a clearly short line without punctuation, between paragraphs, followed by an indented line.
    """
    widths = [_width(x) for x in lines]
    n = len(lines)

    def short(j: int) -> bool:
        return widths[j] <= _column(widths, j) - 1.5

    def first_line(j: int) -> bool:
        following = max(widths[j + 1 : j + 3], default=0.0)
        return widths[j] <= _column(widths, j) - 1.5 or widths[j] <= following - 1.5

    def heading(j: int) -> bool:
        return j + 1 < n and _is_heading(lines[j]) and widths[j] <= _column(widths, j) - 4 and first_line(j + 1)

    blocks: list[_Block] = []
    current = ""
    for i, line in enumerate(lines):
        if not current and heading(i):
            blocks.append(_Block(line, heading=True))
            continue
        current = _join(current, line)
        if i + 1 == n or not _ends_sentence(line):
            continue
        if short(i) or first_line(i + 1) or heading(i + 1) or _is_affiliation(lines[i + 1]):
            blocks.append(_Block(current))
            current = ""
    if current:
        blocks.append(_Block(current))
    return _merge_leads(blocks)


def _is_affiliation(line: str) -> bool:
    return bool(_AFFILIATION.match(line))


def _merge_leads(blocks: list[_Block]) -> list[_Block]:
    """A bold lead sentence printed on its own line (`以数字化为牵引，助力产业转型升级。`) opens the next paragraph."""
    out: list[_Block] = []
    i = 0
    while i < len(blocks):
        b = blocks[i]
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if not b.heading and nxt is not None and not nxt.heading and _is_slogan(b.text):
            out.append(_Block(b.text + nxt.text))
            i += 2
            continue
        out.append(b)
        i += 1
    return out


def _first_sentence(text: str) -> str:
    m = re.match(r"^(.+?[。！？])", text)
    return m.group(1) if m else text


def _is_slogan(sentence: str) -> bool:
    """A two-clause lead sentence such as `注重要素协同，打造产业创新生态体系。`."""
    return len(sentence) <= 19 and sentence.count("，") == 1 and sentence.endswith("。") and _first_sentence(sentence) == sentence


def _lead_title(paragraph: str) -> str | None:
    """The section title a lead sentence gives its paragraph, or None when the paragraph has no lead."""
    first = _first_sentence(paragraph)
    if _is_slogan(first):
        return first.rstrip("。")
    m = ORDINAL_LEAD.match(first)
    if m and len(first) <= 26:
        return first[m.end() :].rstrip("。")
    return None


def _phrase_title(paragraph: str) -> str:
    """A short title from a paragraph's lead phrase, for essays without headings."""
    first = _first_sentence(paragraph).rstrip("。！？")
    if len(first) <= 26:
        return first
    title = ""
    for clause in re.split("(?<=[，；：])", first):
        if len(title) + len(clause) > 26 and len(title) >= 6:
            break
        title += clause
    return title.rstrip("，；：、")[:26]


def _sections(blocks: list[_Block]) -> list[Section]:
    """Group paragraphs into sections: by headings, else by lead sentences, else one per paragraph."""
    paragraphs = [b.text for b in blocks if not b.heading]
    if any(b.heading for b in blocks):
        sections: list[tuple[str, list[str]]] = []
        for b in blocks:
            if b.heading:
                sections.append((b.text, []))
            elif not sections:
                sections.append((OPENING_TITLE, [b.text]))
            else:
                sections[-1][1].append(b.text)
        return [Section(t, tuple(ps)) for t, ps in sections if ps]
    leads = [_lead_title(p) for p in paragraphs]
    if sum(t is not None for t in leads) >= 2:
        grouped: list[tuple[str, list[str]]] = []
        for p, lead in zip(paragraphs, leads, strict=True):
            if lead is not None:
                grouped.append((lead, [p]))
            elif not grouped:
                grouped.append((OPENING_TITLE, [p]))
            else:
                grouped[-1][1].append(p)
        return [Section(t, tuple(ps)) for t, ps in grouped]
    if len(paragraphs) <= 1:
        return [Section(BODY_TITLE, tuple(paragraphs))] if paragraphs else []
    out = [Section(OPENING_TITLE, (paragraphs[0],))]
    seen = {OPENING_TITLE}
    for p in paragraphs[1:]:
        if ORDINAL_LEAD.match(p) and not p.startswith(("一是", "第一")):
            # a later item of an enumeration continues the section that opened it
            out[-1] = Section(out[-1].title, (*out[-1].paragraphs, p))
            continue
        title = _phrase_title(p)
        while title in seen:
            title += "（续）"
        seen.add(title)
        out.append(Section(title, (p,)))
    return out


def _essay_starts(lines: Sequence[str]) -> list[int]:
    """Indexes of title lines: a title-like line followed by a byline, at the top or after a finished paragraph."""
    starts = []
    for i in range(len(lines) - 1):
        at_boundary = i == 0 or _ends_sentence(lines[i - 1])  # `）` of an affiliation counts as an end
        if at_boundary and _is_heading(undouble(lines[i])) and _is_name(lines[i + 1]):
            starts.append(i)
    return starts


def _split_affiliation(body: list[str]) -> tuple[list[str], str]:
    """Remove the `（作者系……）` lines from the end of an essay body and return the affiliation text."""
    for k in range(len(body) - 1, -1, -1):
        if _is_affiliation(body[k]):
            text = "".join(body[k:])
            inner = re.sub(r"^[（(]\s*作者(?:系|为|单位[:：]?)", "", text)
            inner = re.sub(r"[）)]\s*$", "", inner)
            return body[:k], inner.strip()
    return body, ""


def _clean_lines(text: str) -> list[str]:
    return [c for c in (clean_text(x) for x in text.splitlines()) if c]


def parse_page(text: str, source: str) -> list[Essay]:
    """Parse a newspaper page of essays (title, byline, body, `（作者系……）`) into essays; [] if none found."""
    lines = _clean_lines(text)
    starts = _essay_starts(lines)
    essays = []
    stem = _stem(source)
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        body, affiliation = _split_affiliation(lines[start + 2 : end])
        sections = _sections(_paragraphs(body))
        if not sections:
            continue
        essays.append(
            Essay(
                id=f"{stem}-{n + 1}",
                title=undouble(lines[start]),
                author=undouble(lines[start + 1]),
                affiliation=affiliation,
                source=source,
                sections=tuple(sections),
            )
        )
    return essays


def _is_hard_wrapped(lines: Sequence[str]) -> bool:
    """Short, similar-width lines that mostly stop mid-sentence: text reflowed from a column layout."""
    if len(lines) < 6:
        return False
    widths = sorted(_width(x) for x in lines)
    median = widths[len(widths) // 2]
    mid_sentence = sum(not _ends_sentence(x) and not _is_heading(x) for x in lines) / len(lines)
    return median <= 45 and mid_sentence >= 0.4


def parse_plain(text: str, source: str, title_hint: str = "") -> list[Essay]:
    """Best effort for a plain text document: newspaper layout if it parses, else title, byline, headings."""
    essays = parse_page(text, source)
    if essays:
        return essays
    lines = _clean_lines(text)
    if not lines:
        return []
    title, author = title_hint, UNKNOWN_AUTHOR
    if _is_heading(lines[0]) and len(lines) > 1:
        title, lines = undouble(lines[0]), lines[1:]
    if lines and (_is_name(lines[0]) or _BYLINE.match(lines[0])):
        m = _BYLINE.match(lines[0])
        author, lines = undouble(m.group(1).strip() if m else lines[0]), lines[1:]
    body, affiliation = _split_affiliation(lines)
    blocks = _paragraphs(body) if _is_hard_wrapped(body) else _unwrapped_blocks(body)
    sections = _sections(blocks)
    if not sections:
        return []
    return [Essay(f"{_stem(source)}-1", title or name_title(Path(source).stem), author, affiliation, source,
                  tuple(sections))]


def _unwrapped_blocks(lines: Sequence[str]) -> list[_Block]:
    blocks = []
    for i, line in enumerate(lines):
        heading = _is_heading(line) and i + 1 < len(lines) and not _is_heading(lines[i + 1])
        blocks.append(_Block(line, heading=heading))
    return blocks


def parse_markdown(text: str, source: str) -> list[Essay]:
    """Markdown: `#` is the title, `##`/`###` are sections, a `作者：` line or a bare name line is the byline."""
    title, author, affiliation = "", UNKNOWN_AUTHOR, ""
    sections: list[tuple[str, list[str]]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            joined = clean_text("".join(para) if all(not p.isascii() for p in para) else " ".join(para))
            if joined:
                if not sections:
                    sections.append((OPENING_TITLE, []))
                sections[-1][1].append(joined)
            para.clear()

    for raw in text.splitlines():
        line = raw.strip()
        m = _MD_HEADING.match(line)
        if m:
            flush()
            heading = clean_text(re.sub(r"[*_`]", "", m.group(2)))
            if len(m.group(1)) == 1 and not title:
                title = heading
            else:
                sections.append((heading, []))
            continue
        plain = clean_text(re.sub(r"^[>*\-+]\s+|[*_`]", "", line))
        if not plain:
            flush()
            continue
        byline = _BYLINE.match(plain)
        if not any(s for _, s in sections) and not para and (byline or (title and _is_name(plain) and author == UNKNOWN_AUTHOR)):
            author = undouble(byline.group(1).strip() if byline else plain)
            continue
        if _is_affiliation(plain):
            flush()
            affiliation = re.sub(r"^[（(]\s*作者(?:系|为|单位[:：]?)|[）)]$", "", plain)
            continue
        para.append(plain)
    flush()
    secs = tuple(Section(t, tuple(ps)) for t, ps in sections if ps)
    if not secs:
        return []
    return [Essay(f"{_stem(source)}-1", title or name_title(Path(source).stem), author, affiliation, source, secs)]
