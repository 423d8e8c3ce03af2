"""The corpus parser: the seed page, a second page in the same layout, every repair, other formats, bad files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, SEED_PAGE

from rag.corpus import load_corpus, load_file
from rag.errors import CorpusError
from rag.parse import clean_text, parse_markdown, parse_page, undouble

HAN = r"[\u4e00-\u9fff]"


@pytest.fixture(scope="module")
def essays() -> list:
    return load_file(SEED_PAGE)


def test_seed_page_has_four_essays_with_titles_authors_affiliations(essays: list) -> None:
    got = [(e.title, e.author, e.affiliation) for e in essays]
    assert got == [
        ("把握高质量发展要求推进新型工业化", "李晓华",
         "中国社会科学院习近平新时代中国特色社会主义思想研究中心研究员、工业经济研究所研究员"),
        ("全面提升产业体系现代化水平", "王静", "陕西省中国特色社会主义理论体系研究中心特约研究员、西北政法大学教授"),
        ("强化区域创新促新质生产力发展", "傅晋华", "中国科学技术发展战略研究院研究员"),
        ("创新驱动产业基础高级化", "王成仁", "中国国际经济交流中心副研究员"),
    ]


def test_seed_sections(essays: list) -> None:
    titles = [[s.title for s in e.sections] for e in essays]
    assert titles[0] == ["引言", "新型工业化高质量发展的特征", "全面体现高质量要求", "明确提质增效着力点"]
    assert titles[1] == ["引言", "注重要素协同，打造产业创新生态体系", "以数字化为牵引，助力产业转型升级",
                         "强化安全协同，推动产业开放发展"]
    assert titles[2] == ["引言", "提升区域原始创新能力", "加快区域产业创新步伐", "整合区域科创资源"]
    # no headings in the fourth essay: titles come from the paragraphs' lead phrases, never "section 3"
    assert titles[3][0] == "引言"
    assert "推动产业基础高级化，首要的是明晰推进思路" in titles[3]
    assert all(not re.search(r"section|第\d+节|^\d+$", t, re.I) for t in titles[3])
    assert len(titles[3]) == len(set(titles[3])) >= 3


def test_no_extraction_damage_in_any_paragraph(essays: list) -> None:
    for e in essays:
        assert e.title not in {p[: len(e.title)] for s in e.sections for p in s.paragraphs}
        for s in e.sections:
            for p in s.paragraphs:
                assert "\n" not in p
                assert not re.search(f"{HAN}\\s+{HAN}", p), p
                assert "李晓华李晓华" not in p and "作者系" not in p
                assert p.endswith(("。", "！", "？", "”", "）")), p[-20:]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _expected_body(raw: str, essays: list) -> str:
    """The source minus titles, bylines, stand-alone headings and affiliations, computed independently."""
    body = _normalise(raw)
    body = re.sub(r"（作者系.*?）", "", body)
    for e in essays:
        for s in (e.title * 2, e.title, e.author * 2, e.author):
            body = body.replace(s, "", 1)
        for sec in e.sections:
            if sec.title not in sec.paragraphs[0][: len(sec.title) + 4] and sec.title != "引言":
                body = body.replace(sec.title, "", 1)
    return body


@pytest.mark.parametrize("page", [SEED_PAGE, FIXTURES / "second_page.txt"])
def test_every_sentence_in_exactly_one_paragraph(page: Path) -> None:
    essays = load_file(page)
    raw = page.read_text(encoding="utf-8")
    paragraphs = [p for e in essays for s in e.sections for p in s.paragraphs]
    assert _normalise("".join(paragraphs)) == _expected_body(raw, essays)
    assert len(paragraphs) == len(set(paragraphs))


def test_second_page_in_the_same_layout() -> None:
    essays = load_file(FIXTURES / "second_page.txt")
    assert [(e.title, e.author) for e in essays] == [
        ("以数据要素激活实体经济", "张明远"), ("发展绿色低碳产业", "李青"), ("以开放合作提升创新能力", "赵海")]
    assert [s.title for s in essays[0].sections] == ["引言", "夯实数字底座", "健全交易规则"]
    assert [s.title for s in essays[1].sections] == ["引言", "加快能源转型，构建清洁低碳体系", "推广绿色制造，提升资源利用效率"]
    assert essays[2].sections[0].title == "引言" and len(essays[2].sections) == 3
    # a later enumeration item stays in the section its list opened
    assert essays[2].sections[-1].paragraphs[-1].startswith("三是")
    assert essays[0].affiliation == "某某大学经济学院教授"
    # English words keep their spaces; numbers may lose the space to Chinese
    assert "对标Made in China 2025等国际经验。" in essays[0].sections[1].paragraphs[0]


def test_repairs() -> None:
    assert undouble("李晓华李晓华") == "李晓华"
    assert undouble("把握高质量发展要求推进新型工业化把握高质量发展要求推进新型工业化") == "把握高质量发展要求推进新型工业化"
    assert undouble("王静") == "王静"
    assert clean_text("注 重 要 素 协 同 ，打 造") == "注重要素协同，打造"
    assert clean_text("习 近 平 总 书 记") == "习近平总书记"
    assert clean_text("2024 年 1 月 ，") == "2024年1月，"
    assert clean_text("new quality productive forces 与 AI") == "new quality productive forces与AI"
    assert clean_text("零\u200b宽\ufeff字符") == "零宽字符"


def test_hard_wrapped_lines_and_blank_lines_are_joined() -> None:
    page = "标题甲\n张三\n\n第一段开头的这一行\n\n比较长的第二行文字在这里续写完毕。\n\n（作者系某大学教授）\n"
    essays = parse_page(page, "x.txt")
    assert essays[0].sections[0].paragraphs == ("第一段开头的这一行比较长的第二行文字在这里续写完毕。",)
    assert essays[0].affiliation == "某大学教授"


def test_markdown_document(tmp_path: Path) -> None:
    md = tmp_path / "note.md"
    md.write_text("# 数字经济观察\n\n作者：陈某\n\n导语一段。\n\n## 第一部分\n\n正文**一**段。\n续行。\n\n## 第二部分\n\n另一段。\n",
                  encoding="utf-8")
    [essay] = load_file(md)
    assert (essay.title, essay.author) == ("数字经济观察", "陈某")
    assert [s.title for s in essay.sections] == ["引言", "第一部分", "第二部分"]
    assert essay.sections[1].paragraphs == ("正文一段。续行。",)
    assert parse_markdown("", "empty.md") == []


def test_docx_document(tmp_path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_heading("绿色金融的路径", level=1)
    doc.add_paragraph("作者：周某")
    doc.add_paragraph("开篇段落。")
    doc.add_heading("完善标准", level=2)
    doc.add_paragraph("统一绿色金融标准。")
    path = tmp_path / "g.docx"
    doc.save(str(path))
    [essay] = load_file(path)
    assert (essay.title, essay.author) == ("绿色金融的路径", "周某")
    assert [s.title for s in essay.sections] == ["引言", "完善标准"]


def _write_pdf(path: Path, lines: list[str]) -> None:
    """A minimal valid one-page PDF with Latin text (built by hand, so the test needs no PDF writer)."""
    content = "BT /F1 12 Tf 50 750 Td 14 TL " + " ".join(f"({ln}) Tj T*" for ln in lines) + " ET"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{o}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{off:010d} 00000 n \n" for off in offsets).encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(out)


def test_pdf_document(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    _write_pdf(path, ["Industrial Policy Notes", "Productivity grows with innovation.", "Open markets help."])
    [essay] = load_file(path)
    text = " ".join(p for s in essay.sections for p in s.paragraphs)
    assert "Productivity grows with innovation." in text


def test_encrypted_pdf_is_a_clear_error(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    _write_pdf(plain, ["Secret text."])
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt("pw")
    enc = tmp_path / "locked.pdf"
    with enc.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(CorpusError, match="加密"):
        load_file(enc)


def test_bad_files_are_reported_and_the_rest_still_load(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a_seed.txt").write_bytes(SEED_PAGE.read_bytes())
    (folder / "empty.txt").write_text("   \n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 20)
    (folder / "undecodable.txt").write_bytes(b"\xff\xfe\xff\xff\x80\x81" * 10)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (folder / "broken.docx").write_bytes(b"PK not a zip")
    (folder / ".hidden.txt").write_text("隐藏文件不应被读取。", encoding="utf-8")
    (folder / "README.md").write_text("# 说明\n\n这个文件夹的说明，不是文章。\n", encoding="utf-8")
    errors: list[CorpusError] = []
    essays = load_corpus([folder], on_error=errors.append)
    assert len(essays) == 4
    reasons = {Path(e.path).name: e.reason for e in errors}
    assert set(reasons) == {"empty.txt", "binary.txt", "undecodable.txt", "broken.pdf", "broken.docx"}
    assert "为空" in reasons["empty.txt"] and "二进制" in reasons["binary.txt"]
    assert "解码" in reasons["undecodable.txt"]
    with pytest.raises(CorpusError, match="不支持"):
        load_file(tmp_path / "x.xlsx")


def test_cli_corpus_outline_and_json() -> None:
    run = subprocess.run([sys.executable, "-m", "rag.cli", "corpus", "--json"], capture_output=True, text=True,
                         check=True)
    data = json.loads(run.stdout)
    assert [d["author"] for d in data] == ["李晓华", "王静", "傅晋华", "王成仁"]
    assert set(data[0]) == {"id", "title", "author", "affiliation", "source", "sections"}
    assert set(data[0]["sections"][0]) == {"title", "paragraphs"}
    text = subprocess.run([sys.executable, "-m", "rag.cli", "corpus"], capture_output=True, text=True,
                          check=True).stdout
    assert "《全面提升产业体系现代化水平》 王静" in text and "新型工业化高质量发展的特征" in text


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    env = {"PATH": "", "POLICY_QA_HOME": str(tmp_path), "POLICY_QA_TOP_K": "many"}
    run = subprocess.run([sys.executable, "-m", "rag.cli", "corpus"], capture_output=True, text=True, env=env)
    assert run.returncode != 0
    assert "POLICY_QA_TOP_K" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
