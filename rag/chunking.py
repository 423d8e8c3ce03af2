"""Essays to chunks: token-sized, sentence-aligned, never crossing a section, with stable content-hash ids."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import PurePath
from typing import TYPE_CHECKING

from rag.tokens import DEFAULT_ENCODING, get_encoding
from rag.types import Chunk, Essay

if TYPE_CHECKING:  # langchain takes 0.1-0.4 s to import: only commands that cut text pay for it
    from langchain_text_splitters import RecursiveCharacterTextSplitter

# Paragraph first, then sentence ends. A sentence longer than a chunk stays whole (a clause cut from its
# sentence retrieves badly: measured), unless it exceeds HARD_LIMIT chunks; then it is cut at commas.
SEPARATORS = ["\n", "。", "！", "？", "；"]
CLAUSE_SEPARATORS = ["，", "、", ""]
HARD_LIMIT = 2.0
BYLINE_SECTION = "作者信息"  # the section name a byline record is cited under
BYLINE_SECTION_INDEX = -1  # before every real section, so a byline never shares a passage's id inputs

logging.getLogger("langchain_text_splitters.base").addFilter(
    lambda record: "which is longer than the specified" not in record.getMessage()  # whole long sentences are intended
)


@lru_cache(maxsize=16)
def make_splitter(chunk_size: int, chunk_overlap: int, encoding: str = DEFAULT_ENCODING) -> RecursiveCharacterTextSplitter:
    """A langchain splitter measuring length in tiktoken tokens and cutting after Chinese sentence punctuation."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    get_encoding(encoding)  # installs the offline BPE files before langchain asks tiktoken for them
    return RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name=encoding,
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, max(chunk_size - 1, 0)),
        separators=SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
        disallowed_special=(),
    )


@lru_cache(maxsize=16)
def _clause_splitter(limit: int, encoding: str) -> RecursiveCharacterTextSplitter:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name=encoding, chunk_size=limit, chunk_overlap=0, separators=CLAUSE_SEPARATORS,
        keep_separator="end", strip_whitespace=True, disallowed_special=(),
    )


def split_section(text: str, chunk_size: int, chunk_overlap: int = 0, encoding: str = DEFAULT_ENCODING) -> list[str]:
    """Sentence-aligned pieces of a section's text; only an over-long sentence is cut at commas."""
    limit = int(chunk_size * HARD_LIMIT)
    enc = get_encoding(encoding)
    out: list[str] = []
    for piece in make_splitter(chunk_size, chunk_overlap, encoding).split_text(text):
        if len(enc.encode(piece, disallowed_special=())) <= limit:
            out.append(piece)
        else:
            out.extend(_clause_splitter(chunk_size, encoding).split_text(piece))
    return out


def split_parts(text: str, part_size: int, encoding: str = DEFAULT_ENCODING) -> list[str]:
    """Sub-passages of one chunk (sentences, or clauses of a long sentence, grouped up to `part_size` tokens).

    Each gets its own vector so a question answered by one sentence is not diluted by the rest of the
    chunk; the chunk stays the unit that is returned and cited. part_size 0 means the chunk itself."""
    if part_size <= 0:
        return [text]
    return [p for p in split_section(text, part_size, 0, encoding) if p.strip()] or [text]


def chunk_id(essay_id: str, section_index: int, char_start: int, text: str) -> str:
    """Deterministic id: the same text at the same place in the same essay always gets the same id."""
    return hashlib.sha256(f"{essay_id}\0{section_index}\0{char_start}\0{text}".encode()).hexdigest()[:24]


def chunk_essay(essay: Essay, chunk_size: int, chunk_overlap: int = 0, encoding: str = DEFAULT_ENCODING) -> list[Chunk]:
    """Split one essay section by section; offsets point into `essay.text`, paragraph indices are 0-based, inclusive."""
    chunks: list[Chunk] = []
    para_base = 0  # index of the section's first paragraph within the essay
    char_base = 0  # offset of the section's first paragraph within essay.text
    for s_index, section in enumerate(essay.sections):
        paragraphs = [p for p in section.paragraphs]
        text = "\n".join(paragraphs)
        starts = []  # paragraph start offsets within the section text
        pos = 0
        for p in paragraphs:
            starts.append(pos)
            pos += len(p) + 1
        cursor = 0
        for piece in split_section(text, chunk_size, chunk_overlap, encoding):
            at = text.find(piece, cursor)
            if at < 0:  # the splitter only strips whitespace, so this is a bug, not bad input
                raise AssertionError(f"chunk text not found in section {section.title!r}")
            end = at + len(piece)
            p_start = max(i for i, s in enumerate(starts) if s <= at)
            p_end = max(i for i, s in enumerate(starts) if s < end)
            c_start = char_base + at
            chunks.append(
                Chunk(
                    id=chunk_id(essay.id, s_index, c_start, piece),
                    text=piece,
                    essay_id=essay.id,
                    title=essay.title,
                    author=essay.author,
                    affiliation=essay.affiliation,
                    section=section.title,
                    section_index=s_index,
                    paragraph_start=para_base + p_start,
                    paragraph_end=para_base + p_end,
                    char_start=c_start,
                    char_end=char_base + end,
                    source=essay.source,
                )
            )
            cursor = at + 1
        para_base += len(paragraphs)
        char_base += len(text) + (1 if paragraphs else 0)
    return chunks


def chunk_corpus(
    essays: Iterable[Essay], chunk_size: int, chunk_overlap: int = 0, encoding: str = DEFAULT_ENCODING
) -> list[Chunk]:
    """Chunks of every essay, in corpus order."""
    return [c for e in essays for c in chunk_essay(e, chunk_size, chunk_overlap, encoding)]


def byline_text(essay: Essay) -> str:
    """The byline as the page prints it: the title, the author, the `（作者系……）` line, then the source file."""
    lines = [f"《{essay.title}》", essay.author + (f"（作者系{essay.affiliation}）" if essay.affiliation else "")]
    if essay.source:
        lines.append(f"来源：{PurePath(essay.source).name}")
    return "\n".join(lines)


def byline_record(essay: Essay) -> Chunk:
    """The essay's byline as a record retrievable and citable like a passage (kind "byline", no text offsets)."""
    text = byline_text(essay)
    return Chunk(
        id=chunk_id(essay.id, BYLINE_SECTION_INDEX, 0, text), text=text, essay_id=essay.id, title=essay.title,
        author=essay.author, affiliation=essay.affiliation, section=BYLINE_SECTION,
        section_index=BYLINE_SECTION_INDEX, paragraph_start=0, paragraph_end=0, char_start=0, char_end=0,
        source=essay.source, kind="byline",
    )


def index_records(
    essays: Iterable[Essay], chunk_size: int, chunk_overlap: int = 0, encoding: str = DEFAULT_ENCODING
) -> list[Chunk]:
    """What the index holds: every essay's passages (ids and offsets as `chunk_corpus` gives them), then one
    byline record per essay."""
    essays = list(essays)
    return chunk_corpus(essays, chunk_size, chunk_overlap, encoding) + [byline_record(e) for e in essays]
