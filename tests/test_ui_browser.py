"""The page in a real headless Chromium (Debian's chromium + chromedriver), checked as a reader sees it.

Each test asks real questions of the offline Assistant on the seed essays and asserts what is on screen: the
answer text, one collapsed block of cited passages per answer (none repeated in the side panel), a citation
click that opens the passage with the cited sentence highlighted and the author's affiliation labelled, nothing
wider than its panel, the new question scrolled into view after the reader scrolled up, and filters that cannot
contradict each other. Screenshots (initial, answer with an open citation, refusal, summary, filters) and the
measured enter-to-first-characters times go to $POLICY_QA_ARTIFACTS (default: artifacts/, ignored by git).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_fakes import FakeAssistant, offline_settings, running_app, seed_assistant

from prompts import phrase
from ui.app import WARM_UP_QUESTION, warm_up_events

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
QUESTION = "新型工业化的高质量发展有哪些特征？"
UNCOVERED = "火星上有没有液态水？"

# Time stamps taken inside the page: Enter on the question box, the first answer characters in the chat (the
# "searching/generating" placeholder does not count), the final cited answer.
PROBE = """
window.__pq = {};
const box = document.querySelector('#pq-question textarea');
box.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' || e.shiftKey) return;
  window.__pq.enter = performance.now();
  window.__pq.before = document.querySelectorAll('#pq-chat [data-testid="bot"]').length;
}, true);
new MutationObserver(() => {
  const bots = document.querySelectorAll('#pq-chat [data-testid="bot"]');
  const last = bots[bots.length - 1];
  if (!last || window.__pq.enter === undefined || bots.length <= window.__pq.before) return;
  const text = last.querySelector('.pq-thinking') ? '' : last.innerText.trim();
  if (text && window.__pq.first === undefined) window.__pq.first = performance.now();
  if (last.querySelector('sup.pq-cite') && window.__pq.done === undefined) window.__pq.done = performance.now();
}).observe(document.querySelector('#pq-chat'), {subtree: true, childList: true, characterData: true});
"""


MORE_QUESTIONS = ["什么是产业韧性？", "王静认为应如何打造产业创新生态体系？", "如何提升区域原始创新能力？"]


def _since_enter(timing: dict[str, float]) -> dict[str, float]:
    return {f"{name}_ms": round(timing[name] - timing["enter"], 1) for name in ("first", "done") if name in timing}


# True once the n-th answer in the chat is final (no placeholder, no streaming caret).
FINISHED = """
const bots = document.querySelectorAll('#pq-chat [data-testid="bot"]');
return bots.length === arguments[0] && !bots[bots.length - 1].querySelector('.pq-thinking, .pq-caret');
"""

# Visible elements whose box sticks out sideways from the panel they are in (a long word, a wide card...).
OVERFLOW = """
const out = [];
for (const panel of document.querySelectorAll(arguments[0])) {
  const p = panel.getBoundingClientRect();
  if (!p.width) continue;
  for (const el of panel.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    if (r.left < p.left - 1 || r.right > p.right + 1) {
      out.push(`${el.tagName}.${el.className} ${Math.round(r.left)}-${Math.round(r.right)} in ${Math.round(p.left)}-${Math.round(p.right)}`);
    }
  }
}
return out;
"""

# Where an element sits relative to the chat's visible area and the window: top/bottom in px, and the heights.
PLACE = """
const el = arguments[0];
let box = el.parentElement;
while (box && !(/(auto|scroll)/.test(getComputedStyle(box).overflowY) && box.scrollHeight > box.clientHeight)) {
  box = box.parentElement;
}
const r = el.getBoundingClientRect();
const b = box ? box.getBoundingClientRect() : {top: 0, bottom: window.innerHeight};
return {top: r.top, bottom: r.bottom, boxTop: b.top, boxBottom: b.bottom, window: window.innerHeight,
        scrollTop: box ? box.scrollTop : 0};
"""


def _artifacts() -> Path:
    path = Path(os.environ.get("POLICY_QA_ARTIFACTS") or REPO / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page over the real offline Assistant on the seed essays, warmed up the way `serve` warms it."""
    assistant = seed_assistant()
    assistant.ask(WARM_UP_QUESTION)
    with running_app(assistant, offline_settings(tmp_path_factory.mktemp("browser-home"))) as (_, url):
        warm_up_events(url)
        yield url


@pytest.fixture()
def driver() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="policy-qa-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
                 f"--user-data-dir={profile}", "--window-size=1440,1000", "--lang=zh-CN"):
        options.add_argument(flag)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _bots(driver: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, '#pq-chat [data-testid="bot"]')


def _ask(driver: Any, question: str) -> Any:
    """Type a question, press Enter, wait for its final answer; returns the answer's message element."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    n = len(_bots(driver)) + 1
    box = driver.find_element(By.CSS_SELECTOR, "#pq-question textarea")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(FINISHED, n))
    return _bots(driver)[-1]


def _assert_reading_view(driver: Any, answer: Any) -> None:
    """One block of cited passages per answer, none repeated in the side panel, nothing wider than its panel."""
    from selenium.webdriver.common.by import By

    for bot in _bots(driver):
        groups = bot.find_elements(By.CSS_SELECTOR, "details.pq-sources-inline")
        cites = bot.find_elements(By.CSS_SELECTOR, "sup.pq-cite:not(.pq-cite-missing)")
        assert len(groups) == (1 if cites else 0)
        if groups:  # every marker has exactly one card, in its own answer
            cards = groups[0].find_elements(By.CSS_SELECTOR, "details.pq-source")
            refs = [next(c for c in el.get_attribute("class").split() if c.startswith("pq-ref-")) for el in cards]
            assert len(refs) == len(set(refs))
            for cite in cites:
                ref = next(c for c in cite.get_attribute("class").split() if c.startswith("pq-ref-"))
                assert ref in refs
    panel = driver.find_element(By.CSS_SELECTOR, "#pq-sources")
    assert not panel.find_elements(By.CSS_SELECTOR, "details.pq-source:not(.pq-source-other)")
    assert driver.execute_script(OVERFLOW, "#pq-chat, #pq-sources, #pq-left, #pq-right") == []
    assert answer.text.strip()


def _choose(driver: Any, dropdown: str, label: str) -> None:
    """Pick the option `label` of a Gradio dropdown the way a reader does: open it, click the option."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.CSS_SELECTOR, f"{dropdown} input").click()
    option = WebDriverWait(driver, 10).until(
        lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, f'{dropdown} li[data-testid="dropdown-option"]')
                   if o.get_attribute("aria-label") == label])
    option[0].click()
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f"{dropdown} input").get_attribute("value") == label)


def _options(driver: Any, dropdown: str) -> list[str]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.CSS_SELECTOR, f"{dropdown} input").click()
    items = WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'{dropdown} li[data-testid="dropdown-option"]'))
    labels = [str(o.get_attribute("aria-label")) for o in items]
    driver.find_element(By.CSS_SELECTOR, "#pq-question textarea").click()  # close the list
    return labels


def _value(driver: Any, dropdown: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, f"{dropdown} input").get_attribute("value"))


def test_reading_view_citation_scroll_and_refusal(page_url: str, driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60)
    out = _artifacts()
    driver.get(page_url + "/")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#pq-question textarea"))
    assert "政策文章问答" in driver.title
    assert "向这几篇文章提问" in driver.find_element(By.CSS_SELECTOR, "#pq-chat").text
    driver.save_screenshot(str(out / "ui-initial.png"))
    driver.execute_script(PROBE)

    answer = _ask(driver, QUESTION)
    timing = driver.execute_script("return window.__pq")
    assert "新型工业化" in answer.text and "[1]" in answer.text
    assert "离线摘录模式" in driver.find_element(By.CSS_SELECTOR, "#pq-status").text
    group = answer.find_element(By.CSS_SELECTOR, "details.pq-sources-inline")
    assert group.get_attribute("open") is None and "引用原文" in group.text
    assert "引用了" in driver.find_element(By.CSS_SELECTOR, "#pq-sources").get_attribute("textContent")
    _assert_reading_view(driver, answer)

    # Clicking a marker opens the cited passage, with the cited sentence highlighted and the affiliation labelled.
    cite = answer.find_elements(By.CSS_SELECTOR, "sup.pq-cite")[0]
    ref = next(c for c in cite.get_attribute("class").split() if c.startswith("pq-ref-"))
    card = answer.find_element(By.CSS_SELECTOR, f"details.pq-source.{ref}")
    cite.click()
    wait.until(lambda d: card.get_attribute("open") is not None and group.get_attribute("open") is not None)
    passage = card.find_element(By.CSS_SELECTOR, ".pq-passage")
    wait.until(lambda d: passage.is_displayed())
    label = card.find_element(By.CSS_SELECTOR, ".pq-label").text
    assert "李晓华" in label and "《" in label
    highlighted = passage.find_elements(By.CSS_SELECTOR, "mark.pq-hl")
    assert highlighted and highlighted[0].text in passage.text
    meta = card.find_element(By.CSS_SELECTOR, ".pq-meta").text
    assert meta.startswith("作者单位") and "李晓华" in meta and "研究员" in meta
    assert "研究员" not in passage.text  # the affiliation is not part of the quoted passage
    place = driver.execute_script(PLACE, passage)
    assert place["top"] < place["boxBottom"] and place["bottom"] > place["boxTop"]  # the opened passage is on screen
    _assert_reading_view(driver, answer)
    driver.save_screenshot(str(out / "ui-answer-citation.png"))

    # Nothing was fetched from anywhere but the app itself (fonts, scripts, images).
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in urls if not u.startswith((page_url, "data:", "blob:"))] == []
    figures = [{"question": QUESTION, **_since_enter(timing)}]

    # More answers, then the reader scrolls back up to the first one and clicks its citation ...
    for question in MORE_QUESTIONS:
        driver.execute_script(PROBE)
        _ask(driver, question)
        figures.append({"question": question, **_since_enter(driver.execute_script("return window.__pq"))})
    first = _bots(driver)[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", first)
    first.find_elements(By.CSS_SELECTOR, "sup.pq-cite")[1].click()
    assert driver.execute_script(PLACE, _bots(driver)[-1])["top"] > driver.execute_script(PLACE, first)["boxBottom"]
    # ... and asks again: the new question and the start of its answer are in view, not behind an arrow.
    driver.execute_script(PROBE)
    refusal = _ask(driver, UNCOVERED)
    figures.append({"question": UNCOVERED, **_since_enter(driver.execute_script("return window.__pq"))})
    asked = driver.find_elements(By.CSS_SELECTOR, '#pq-chat [data-testid="user"]')[-1]
    for el in (asked, refusal):
        place = driver.execute_script(PLACE, el)
        assert place["boxTop"] - 2 <= place["top"] < place["boxBottom"] and place["top"] < place["window"], place
    assert phrase("refusal") in refusal.text
    assert not refusal.find_elements(By.CSS_SELECTOR, "details.pq-sources-inline")
    assert "文章未涉及" in driver.find_element(By.CSS_SELECTOR, "#pq-status").text
    _assert_reading_view(driver, refusal)
    driver.save_screenshot(str(out / "ui-refusal.png"))
    (out / "ui-timing.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1))
    print("\nms after Enter:", *figures, sep="\n  ")

    # Clear chat empties the conversation and the side panel.
    driver.find_element(By.CSS_SELECTOR, "#pq-clear").click()
    wait.until(lambda d: not _bots(d))
    assert "引用了" not in driver.find_element(By.CSS_SELECTOR, "#pq-sources").get_attribute("textContent")


def test_filters_stay_consistent_and_show_above_the_answer(page_url: str, driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60)
    driver.get(page_url + "/")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#pq-question textarea"))
    essays = _options(driver, "#pq-essay-filter")
    assert essays[0] == "全部文章" and len(essays) == 5
    assert all(e.count("《") == 1 and not e.startswith("《") for e in essays[1:])  # 作者《标题》

    # An essay sets its author.
    wang = next(e for e in essays if e.startswith("王静《"))
    _choose(driver, "#pq-essay-filter", wang)
    wait.until(lambda d: _value(d, "#pq-author-filter") == "王静")
    # Another author resets that essay and narrows the essay list to the author's own.
    _choose(driver, "#pq-author-filter", "傅晋华")
    wait.until(lambda d: _value(d, "#pq-essay-filter") == "全部文章")
    narrowed = _options(driver, "#pq-essay-filter")
    assert narrowed[0] == "全部文章" and narrowed[1:] and all(e.startswith("傅晋华《") for e in narrowed[1:])

    answer = _ask(driver, "如何提升区域原始创新能力？")
    scope = answer.find_element(By.CSS_SELECTOR, ".pq-scope")
    assert "傅晋华" in scope.text
    assert driver.execute_script(PLACE, scope)["top"] < driver.execute_script(
        PLACE, answer.find_element(By.CSS_SELECTOR, "sup.pq-cite"))["top"]  # above the answer text
    labels = [e.get_attribute("textContent") for e in answer.find_elements(By.CSS_SELECTOR, ".pq-label")]
    assert labels and all("傅晋华" in t for t in labels)
    _assert_reading_view(driver, answer)
    driver.save_screenshot(str(_artifacts() / "ui-filters.png"))

    # Back to all authors: the whole list returns and the next answer carries no scope line.
    _choose(driver, "#pq-author-filter", "全部作者")
    assert len(_options(driver, "#pq-essay-filter")) == 5
    assert not _ask(driver, "什么是产业韧性？").find_elements(By.CSS_SELECTOR, ".pq-scope")


def test_summary_button_and_example_question(page_url: str, driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60)
    driver.get(page_url + "/")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#pq-question textarea"))
    examples = driver.find_elements(By.CSS_SELECTOR, "#pq-examples button")
    assert len(examples) == 4 and all(e.text for e in examples)
    examples[0].click()
    wait.until(lambda d: d.execute_script(FINISHED, 1))

    tab = next(b for b in driver.find_elements(By.CSS_SELECTOR, "button[role='tab']") if "文章一览" in b.text)
    tab.click()
    outline = wait.until(lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".pq-essay") if e.is_displayed()])
    assert "傅晋华" in " ".join(e.text for e in outline)
    buttons = [b for b in driver.find_elements(By.CSS_SELECTOR, ".pq-summary-btn") if b.is_displayed()]
    fu = next(i for i, e in enumerate(outline) if "傅晋华" in e.text)
    buttons[fu].click()
    wait.until(lambda d: d.execute_script(FINISHED, 2))
    last = _bots(driver)[-1]
    labels = [e.get_attribute("textContent") for e in last.find_elements(By.CSS_SELECTOR, ".pq-label")]
    assert labels and all("傅晋华" in t for t in labels)
    # The request sits at the top of the chat and the summary's first lines below it; its cited passages wait,
    # collapsed, under the summary.
    asked = driver.find_elements(By.CSS_SELECTOR, '#pq-chat [data-testid="user"]')[-1]
    place = driver.execute_script(PLACE, asked)
    assert place["boxTop"] - 2 <= place["top"] < place["boxTop"] + 80, place
    place = driver.execute_script(PLACE, last)
    assert place["boxTop"] - 2 <= place["top"] < place["boxBottom"] - 100, place
    assert last.find_element(By.CSS_SELECTOR, "details.pq-sources-inline").get_attribute("open") is None
    _assert_reading_view(driver, last)
    driver.save_screenshot(str(_artifacts() / "ui-summary.png"))


def test_slow_first_token_shows_generating_at_once(tmp_path: Path, driver: Any) -> None:
    """A backend whose first token takes seconds: the page says it is generating before any text arrives."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with running_app(FakeAssistant(delay_s=3.0), offline_settings(tmp_path)) as (_, url):
        wait = WebDriverWait(driver, 60)
        driver.get(url + "/")
        box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#pq-question textarea"))
        box.send_keys("什么是产业韧性？")
        box.send_keys(Keys.ENTER)
        thinking = WebDriverWait(driver, 2.5).until(
            lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, '#pq-chat [data-testid="bot"] .pq-thinking')
                       if "正在生成" in e.text and e.is_displayed()])
        assert thinking
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#pq-chat sup.pq-cite"))
        assert not driver.find_elements(By.CSS_SELECTOR, "#pq-chat .pq-thinking")


def test_answer_streams_in_pieces(tmp_path: Path, driver: Any) -> None:
    """With a backend that streams slowly, the page shows growing partial text (and escapes it) before the end."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with running_app(FakeAssistant(piece_delay_s=0.12), offline_settings(tmp_path)) as (_, url):
        wait = WebDriverWait(driver, 60)
        driver.get(url + "/")
        box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#pq-question textarea"))
        driver.execute_script("""
            window.__pqLengths = [];
            new MutationObserver(() => {
              const bots = document.querySelectorAll('#pq-chat [data-testid="bot"]');
              const last = bots[bots.length - 1];
              if (last && !last.querySelector('sup.pq-cite')) window.__pqLengths.push(last.innerText.length);
            }).observe(document.querySelector('#pq-chat'), {subtree: true, childList: true, characterData: true});
        """)
        box.send_keys("什么是产业韧性？")
        box.send_keys(Keys.ENTER)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#pq-chat sup.pq-cite"))
        lengths = driver.execute_script("return window.__pqLengths")
        assert len(set(lengths)) >= 3, lengths  # several partial states were on screen
        answer = driver.find_elements(By.CSS_SELECTOR, '#pq-chat [data-testid="bot"]')[-1]
        assert "<script>alert(1)</script>" in answer.text  # shown as text, never run
        assert not answer.find_elements(By.CSS_SELECTOR, "script, img")
        from selenium.common.exceptions import NoAlertPresentException

        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 - reading it is the check that no alert() ran
