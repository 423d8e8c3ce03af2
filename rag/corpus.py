"""The corpus: files on disk (.txt, .md, .pdf, .docx) -> essays, within per-file limits, with a cheap signature.

Each file is read (decoded, extracted from the PDF or DOCX) and handed to rag/parse.py, which recovers the
layout; a file that cannot be read is reported with the reason and the others still load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings
from rag.datadir import shown
from rag.errors import CorpusError
from rag.parse import name_title, parse_markdown, parse_plain
from rag.types import Essay

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".pdf", ".docx")

OnError = Callable[[CorpusError], None]
Progress = Callable[[str], None]
_MB = 1024 * 1024
PROGRESS_EVERY_S = 2.0  # a reading progress line at most this often, so a long ingest never looks stuck


@dataclass(frozen=True)
class Limits:
    """Per-file bounds on what is read (their settings and defaults are in rag/config.py and docs/index.md)."""

    max_file_mb: int = 20
    max_inflated_mb: int = 100
    max_pdf_pages: int = 500
    follow_links: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits the settings ask for."""
        return cls(settings.max_file_mb, settings.max_inflated_mb, settings.max_pdf_pages, settings.follow_links)


def content_key(essay: Essay) -> str:
    """Hash of what an essay says (title, author, affiliation, sections), whatever file it came from."""
    d = essay.to_dict()
    body = {k: d[k] for k in ("title", "author", "affiliation", "sections")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _read_text_file(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise CorpusError(shown(path), "文件为空")
    if b"\x00" in data[:4096]:
        raise CorpusError(shown(path), "看起来是二进制文件，不是文本")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CorpusError(shown(path), "无法按 UTF-8 或 GB18030 解码")


def _read_pdf(path: Path, limits: Limits) -> str:
    from pypdf import PdfReader

    pdf_log = logging.getLogger("pypdf")
    level = pdf_log.level
    pdf_log.setLevel(logging.CRITICAL)  # its warnings ("invalid pdf header") become the one skip line instead
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(str(path))
            if reader.is_encrypted:
                raise CorpusError(shown(path), "PDF 已加密，无法读取")
            pages = len(reader.pages)
            if pages > limits.max_pdf_pages:
                raise CorpusError(shown(path), f"PDF 有 {pages} 页，超过上限 {limits.max_pdf_pages} 页"
                                  "（POLICY_QA_MAX_PDF_PAGES）")
            text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except CorpusError:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed PDF can raise almost anything inside pypdf
        raise CorpusError(shown(path), f"PDF 无法解析（{type(exc).__name__}）") from None
    finally:
        pdf_log.setLevel(level)
    if not text.strip():
        raise CorpusError(shown(path), "PDF 中没有可提取的文字（可能是扫描件）")
    return text


def _read_docx(path: Path, limits: Limits) -> list[Essay]:
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        with zipfile.ZipFile(path) as z:  # the sizes a zip declares bound what reading it can inflate to
            inflated = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorpusError(shown(path), f"DOCX 无法解析（{type(exc).__name__}）") from None
    if inflated > limits.max_inflated_mb * _MB:
        raise CorpusError(shown(path), f"DOCX 解压后 {inflated / _MB:.0f} MB，超过上限 {limits.max_inflated_mb} MB"
                          "（POLICY_QA_MAX_INFLATED_MB）")
    try:
        doc = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CorpusError(shown(path), f"DOCX 无法解析（{type(exc).__name__}）") from None
    lines = []
    for p in doc.paragraphs:
        style = (p.style.name if p.style is not None else "") or ""
        text = p.text.strip()
        if not text:
            continue
        if style == "Title" or style == "Heading 1":
            lines.append(f"# {text}")
        elif style.startswith("Heading"):
            lines.append(f"## {text}")
        else:
            lines.append(text)
        lines.append("")
    essays = parse_markdown("\n".join(lines), str(path))
    if not essays:
        raise CorpusError(shown(path), "DOCX 中没有正文")
    return essays


def load_file(path: Path, limits: Limits | None = None) -> list[Essay]:
    """Parse one file into essays; raises CorpusError with the reason when it cannot."""
    limits = limits or Limits()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise CorpusError(shown(path), f"不支持的文件类型 {suffix or '（无扩展名）'}，支持 {' '.join(SUPPORTED_SUFFIXES)}")
    if not path.is_file():
        raise CorpusError(shown(path), "文件不存在")
    size = path.stat().st_size
    if size > limits.max_file_mb * _MB:
        raise CorpusError(shown(path), f"文件 {size / _MB:.0f} MB，超过上限 {limits.max_file_mb} MB（POLICY_QA_MAX_FILE_MB）")
    if suffix == ".docx":
        return _read_docx(path, limits)
    if suffix == ".pdf":
        essays = parse_plain(_read_pdf(path, limits), str(path), title_hint=name_title(path.stem))
    elif suffix in (".md", ".markdown"):
        essays = parse_markdown(_read_text_file(path), str(path))
    else:
        essays = parse_plain(_read_text_file(path), str(path), title_hint=name_title(path.stem))
    if not essays:
        raise CorpusError(shown(path), "没有找到正文")
    return essays


def iter_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into their supported files (sorted; hidden files and a folder's README skipped)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                and f.stem.lower() != "readme"
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            files.append(p)
    return files


def corpus_signature(paths: Sequence[Path]) -> str:
    """Hash of the files load_corpus would read (path, size, modification time): cheap, nothing is parsed."""
    h = hashlib.sha256()
    for f in iter_files(paths):
        try:
            st = f.stat()
        except OSError:
            continue
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _leaves(f: Path, folders: Sequence[Path]) -> Path | None:
    """Where a file found inside a given folder really lives, when a symlink takes it outside that folder."""
    for root in folders:
        if f.is_relative_to(root):
            target = f.resolve()
            return None if target.is_relative_to(root.resolve()) else target
    return None


def load_corpus(paths: Sequence[Path], on_error: OnError | None = None, limits: Limits | None = None,
                progress: Progress | None = None) -> list[Essay]:
    """Load every essay under the given files and folders; a bad file is reported and the rest still load."""
    limits = limits or Limits()
    folders = [p for p in paths if p.is_dir()]
    files = iter_files(paths)
    essays: list[Essay] = []
    started = last = time.monotonic()
    for n, f in enumerate(files, 1):
        if progress is not None and time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            progress(f"读取语料 {n}/{len(files)}：{shown(f)}")
        try:
            outside = None if limits.follow_links else _leaves(f, folders)
            if outside is not None:
                raise CorpusError(shown(f), f"符号链接指向语料文件夹之外（{shown(outside)}），已跳过；"
                                  "设置 POLICY_QA_FOLLOW_LINKS=1 可允许")
            essays += load_file(f, limits)
        except CorpusError as exc:
            if on_error is None:
                raise
            on_error(exc)
    if progress is not None and time.monotonic() - started >= PROGRESS_EVERY_S:
        progress(f"读取完成：{len(files)} 个文件，用时 {time.monotonic() - started:.1f} 秒")
    return essays
