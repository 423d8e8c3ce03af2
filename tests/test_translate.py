"""English words turned into the Chinese words a corpus uses (rag/translate.py), on a small made-up dictionary
and on the shipped CC-CEDICT over the seed essays."""

from __future__ import annotations

from pathlib import Path

from rag.retrieve import Retriever
from rag.translate import Glossary, build_table, stem

CORPUS = "要培养领军人才，推动供应链转变，拓展海外市场。"
ENTRIES = [
    ("人才", ["talent", "talented person"]),
    ("转变", ["to change", "shift; transformation"]),
    ("海外", ["overseas", "abroad"]),
    ("供应链", ["supply chain"]),
    ("足球", ["soccer ball", "football"]),
    ("股市", ["stock market"]),
    ("市场", ["market", "marketplace"]),
    ("领", ["to lead"]),  # one character: never a translation
]


def glossary() -> Glossary:
    table, known = build_table(CORPUS, ENTRIES)
    return Glossary(table, known)


def test_stems_meet_between_question_and_gloss_forms() -> None:
    assert stem("innovative") == stem("innovation") == stem("innovate")
    assert stem("features") == stem("feature")
    assert stem("shifts") == stem("shift")


def test_words_translate_into_the_corpus_words() -> None:
    t = glossary().translate("What shifts are needed for talents abroad?")
    assert set(t.terms) == {"转变", "人才", "海外"}
    assert t.missing == ()
    assert t.found_share("人才与海外转变") == 1.0


def test_a_whole_gloss_phrase_wins_over_its_words() -> None:
    t = glossary().translate("How to secure the supply chain?")
    assert "供应链" in t.terms


def test_words_and_phrases_the_corpus_never_uses_are_missing() -> None:
    g = glossary()
    assert g.translate("What about the football?").missing == ("football",)
    t = g.translate("What about the stock market?")
    assert t.missing == ("stock market",) and "市场" not in t.terms


def test_a_word_the_dictionary_does_not_know_is_not_missing() -> None:
    t = glossary().translate("What about resilience?")
    assert t.terms == () and t.missing == ()


def test_single_characters_are_never_translations() -> None:
    assert "领" not in glossary().translate("Who should lead?").terms


def test_the_shipped_dictionary_over_the_seed_corpus_is_cached(seed_retriever: Retriever, tmp_path: Path) -> None:
    seed_essay_text = "\n".join(e.text for e in seed_retriever.essays)
    first = Glossary.for_corpus(seed_essay_text, tmp_path)
    assert list(tmp_path.glob("glossary-*.json"))
    again = Glossary.for_corpus(seed_essay_text, tmp_path)
    assert again.table == first.table
    talent = again.translate("What does she say about talent?")
    assert "人才" in talent.terms
    assert "football" in again.translate("football league").missing
