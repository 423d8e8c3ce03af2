"""The page in a real headless Chromium (Debian's chromium + chromedriver): ask, stream, click a citation, screenshot.

The screenshot and the measured enter-to-first-characters time go to $POLICY_QA_ARTIFACTS (default: artifacts/,
ignored by git).
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

from ui.app import WARM_UP_QUESTION, warm_up_events

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
QUESTION = "新型工业化的高质量发展有哪些特征？"

# Time stamps taken inside the page: Enter on the question box, the first answer characters in the chat (the
# "searching" placeholder does not count), the final cited answer.
PROBE = """
window.__pq = {};
const box = document.querySelector('#pq-question textarea');
box.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) window.__pq.enter = performance.now(); },
                     true);
new MutationObserver(() => {
  const bots = document.querySelectorAll('#pq-chat [data-testid="bot"]');
  const last = bots[bots.length - 1];
  if (!last || window.__pq.enter === undefined) return;
  const text = last.innerText.replace('正在检索原文…', '').trim();
  if (text && window.__pq.first === undefined) window.__pq.first = performance.now();
  if (last.querySelector('sup.pq-cite') && window.__pq.done === undefined) window.__pq.done = performance.now();
}).observe(document.querySelector('#pq-chat'), {subtree: true, childList: true, characterData: true});
"""


MORE_QUESTIONS = ["什么是产业韧性？", "王静认为应如何打造产业创新生态体系？", "如何提升区域原始创新能力？",
                  "火星上有没有液态水？"]


def _since_enter(timing: dict[str, float]) -> dict[str, float]:
    return {f"{name}_ms": round(timing[name] - timing["enter"], 1) for name in ("first", "done") if name in timing}


# True once the n-th answer in the chat is final (no placeholder, no streaming caret).
FINISHED = """
const bots = document.querySelectorAll('#pq-chat [data-testid="bot"]');
return bots.length === arguments[0] && !bots[bots.length - 1].querySelector('.pq-thinking, .pq-caret');
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


def test_ask_stream_click_citation_and_screenshot(page_url: str, driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60)
    driver.get(page_url + "/")
    box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#pq-question textarea"))
    assert "政策文章问答" in driver.title
    driver.save_screenshot(str(_artifacts() / "ui-empty.png"))
    driver.execute_script(PROBE)
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)

    cites = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#pq-chat sup.pq-cite"))
    timing = driver.execute_script("return window.__pq")
    answer = driver.find_elements(By.CSS_SELECTOR, '#pq-chat [data-testid="bot"]')[-1]
    assert "新型工业化" in answer.text and "[1]" in answer.text
    assert "离线摘录模式" in driver.find_element(By.CSS_SELECTOR, "#pq-status").text
    assert "本次回答引用" in driver.find_element(By.CSS_SELECTOR, "#pq-sources").text

    # Clicking a marker opens the cited passage, with the cited sentence highlighted.
    ref = next(c for c in cites[0].get_attribute("class").split() if c.startswith("pq-ref-"))
    inline = answer.find_element(By.CSS_SELECTOR, f"details.pq-source.{ref}")
    assert inline.get_attribute("open") is None
    cites[0].click()
    wait.until(lambda d: inline.get_attribute("open") is not None)
    passage = inline.find_element(By.CSS_SELECTOR, ".pq-passage")
    wait.until(lambda d: passage.is_displayed())
    label = inline.find_element(By.CSS_SELECTOR, ".pq-label").text
    assert "李晓华" in label and "《" in label
    highlighted = passage.find_elements(By.CSS_SELECTOR, "mark.pq-hl")
    assert highlighted and highlighted[0].text in passage.text

    # Nothing was fetched from anywhere but the app itself (fonts, scripts, images).
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    outside = [u for u in urls if not u.startswith((page_url, "data:", "blob:"))]
    assert outside == []

    out = _artifacts()
    driver.save_screenshot(str(out / "ui-answer.png"))
    figures = [{"question": QUESTION, **_since_enter(timing)}]

    # Clear chat empties the conversation and the sources panel.
    driver.find_element(By.CSS_SELECTOR, "#pq-clear").click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '#pq-chat [data-testid="bot"]'))
    assert "本次回答引用" not in driver.find_element(By.CSS_SELECTOR, "#pq-sources").text

    # More questions in the same page, for the enter-to-first-characters figures (recorded, not asserted).
    for i, question in enumerate(MORE_QUESTIONS, 1):
        driver.execute_script(PROBE)
        box.send_keys(question)
        box.send_keys(Keys.ENTER)
        wait.until(lambda d, n=i: d.execute_script(FINISHED, n))
        figures.append({"question": question, **_since_enter(driver.execute_script("return window.__pq"))})
    (out / "ui-timing.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1))
    print("\nms after Enter:", *figures, sep="\n  ")


def test_summary_button_and_example_question(page_url: str, driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 60)
    driver.get(page_url + "/")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#pq-question textarea"))
    examples = driver.find_elements(By.CSS_SELECTOR, "#pq-examples button")
    assert len(examples) == 4 and all(e.text for e in examples)
    examples[0].click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#pq-chat sup.pq-cite"))

    tab = next(b for b in driver.find_elements(By.CSS_SELECTOR, "button[role='tab']") if "文章一览" in b.text)
    tab.click()
    outline = wait.until(lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".pq-essay") if e.is_displayed()])
    assert "傅晋华" in " ".join(e.text for e in outline)
    buttons = [b for b in driver.find_elements(By.CSS_SELECTOR, ".pq-summary-btn") if b.is_displayed()]
    fu = next(i for i, e in enumerate(outline) if "傅晋华" in e.text)
    buttons[fu].click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '#pq-chat [data-testid="bot"] .pq-sources-inline')) == 2)
    last = driver.find_elements(By.CSS_SELECTOR, '#pq-chat [data-testid="bot"]')[-1]
    labels = [e.get_attribute("textContent") for e in last.find_elements(By.CSS_SELECTOR, ".pq-label")]
    assert labels and all("傅晋华" in t for t in labels)
    driver.save_screenshot(str(_artifacts() / "ui-summary.png"))


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
