"""tools/web_demo.py in a real browser: headless Chromium (Debian's chromium + chromium-driver, which .ci/run installs)
driven by Selenium uploads a toy scene, types a vocabulary with classes never seen in training, and reads the page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.inference.helpers import REPO, TEST_OPTS, TINY_CONFIG

WEB_DEMO = REPO / "tools" / "web_demo.py"
TOY_SCENE = REPO / "docs" / "images" / "toy_scene.png"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Two of these classes never get a mask in the toy world's training: blue circle and cyan heart.
VOCABULARY = "blue circle;blue star;pink square;cyan heart;stripes,striped;grid"
STUFF = "stripes;grid"
COLUMNS = ("id", "class", "score", "area", "kind")  # tools/web_demo.py SEGMENT_COLUMNS
SCREENSHOT_ENV = "GPA_WEB_DEMO_SCREENSHOT"  # also save the page with results there (for docs/images)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()),
                       reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; "
                              ".ci/run installs them)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_weights, tmp_path_factory):
    """The web demo on the tiny model, served on a free local port; its URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "web_demo.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(WEB_DEMO), "--config-file", str(TINY_CONFIG), "--weights", str(tiny_weights),
             "--port", str(port), "--opts", *TEST_OPTS],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path_factory.mktemp("cwd"),
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the web demo did not start:\n{log.read_text()[-4000:]}") from None
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # no driver download
    yield driver
    driver.quit()


def _page(browser, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#gpa-run"))
    return By


def _type(browser, selector, text):
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.CSS_SELECTOR, f"{selector} textarea")
    box.clear()
    box.send_keys(text)


def _press_segment_and_wait(browser, previous_status: str) -> str:
    """Press Segment; the status line once it changed (each press writes a new one)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    status = browser.find_element(By.CSS_SELECTOR, "#gpa-status")
    browser.find_element(By.CSS_SELECTOR, "#gpa-run").click()
    WebDriverWait(browser, 120).until(lambda _: status.text.strip() not in ("", previous_status))
    return status.text.strip()


def _table(browser) -> list[list[str]]:
    """The segment list as shown: Gradio's visible cells (role gridcell), row by row."""
    from selenium.webdriver.common.by import By

    cells = [cell.text.strip() for cell in browser.find_elements(By.CSS_SELECTOR, "#gpa-segments [role=gridcell]")]
    width = len(COLUMNS)
    assert len(cells) % width == 0, cells
    return [cells[i : i + width] for i in range(0, len(cells), width)]


def test_page_segments_a_toy_scene_into_unseen_classes_then_rejects_an_empty_vocabulary(server, browser,
                                                                                       tiny_weights):
    from gpa.inference import Predictor

    expected = Predictor(TINY_CONFIG, tiny_weights, opts=TEST_OPTS).predict(
        str(TOY_SCENE), VOCABULARY.split(";"), stuff=STUFF.split(";"))
    assert expected.segments, "a vacuous check: the tiny model finds no segment in the toy scene"

    by = _page(browser, server)
    browser.find_element(by.CSS_SELECTOR, "#gpa-image input[type=file]").send_keys(str(TOY_SCENE))
    _type(browser, "#gpa-vocabulary", VOCABULARY)
    _type(browser, "#gpa-stuff", STUFF)
    status = _press_segment_and_wait(browser, "")
    assert status == f"{len(expected.segments)} segments (panoptic, 6 classes)"
    header = browser.find_element(by.CSS_SELECTOR, "#gpa-segments [role=row]").text.split()
    assert header == list(COLUMNS)
    table = _table(browser)
    assert [row[1] for row in table] == [s.class_name for s in expected.segments]
    assert [int(row[3]) for row in table] == [s.area for s in expected.segments]
    assert [row[4] for row in table] == ["thing" if s.isthing else "stuff" for s in expected.segments]
    files = browser.find_element(by.CSS_SELECTOR, "#gpa-files").text
    for name in ("toy_scene_visualization", "toy_scene_panoptic", "toy_scene_segments"):
        assert name in files
    assert browser.find_elements(by.CSS_SELECTOR, "#gpa-overlay img")
    if os.environ.get(SCREENSHOT_ENV):
        browser.save_screenshot(os.environ[SCREENSHOT_ENV])

    _type(browser, "#gpa-vocabulary", " ")
    status = _press_segment_and_wait(browser, status)
    assert status.startswith("Error: the vocabulary is empty; separate classes by ';' and synonyms by ','")
    assert _table(browser) == []

