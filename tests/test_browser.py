"""The pages in a real headless Chromium, driven by Selenium against a real server on 127.0.0.1.

The server is the session's ``kb serve`` (``live_server``) once ``create_app`` registers the pages
blueprint; until then a werkzeug server thread serves ``create_app`` plus the blueprint. Every
page visit fails on a console error; screenshots at 1280 and 375 px wide go to
``test-artifacts/screenshots/``. Skipped only when /usr/bin/chromium is not installed.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ROOT, SEED_PAGE, SHARED, copy_data_dir

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# The seed question whose answer names the two exchanges with the largest long liquidations,
# read from the shared evaluation file at run time.
SEED_QUESTION = next(
    item["question"]
    for item in map(
        json.loads,
        (SHARED / "eval" / "seed-questions.jsonl").read_text(encoding="utf-8").splitlines(),
    )
    if item["id"] == "seed-q02"
)
DESKTOP, PHONE = 1280, 375
WAIT = 60.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's chromium and chromium-driver in /usr/bin "
        "(apt-get install chromium chromium-driver)",
    ),
]

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def pages_registered() -> bool:
    """Whether ``create_app`` itself registers the pages (so ``kb serve`` serves them)."""
    from api import create_app

    return "register_blueprint(pages)" in inspect.getsource(create_app)


@pytest.fixture(scope="module")
def base_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The root URL of a real HTTP server serving the pages and the API."""
    if pages_registered():
        yield request.getfixturevalue("live_server").base_url
        return
    from werkzeug.serving import make_server

    from api import create_app
    from api.pages import pages
    from kb.knowledge import KnowledgeBase

    built, embedder = request.getfixturevalue("built_kb_dir"), request.getfixturevalue("embedder")
    data_dir = copy_data_dir(built, tmp_path_factory.mktemp("browser") / "data")
    app = create_app({"data_dir": str(data_dir), "kb": KnowledgeBase(data_dir, embedder=embedder)})
    app.register_blueprint(pages)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="module")
def downloads() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kb-downloads-") as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium with a fresh profile, no network extras, and its console log kept."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="kb-chromium-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The service path keeps Selenium Manager from looking for (or downloading) a driver.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.set_window_size(DESKTOP, 900)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: webdriver.Chrome, expected_status_url: str | None = None) -> list[str]:
    """SEVERE console entries since the last call, except the page's own expected error status."""
    found = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        if (
            expected_status_url
            and entry.get("source") == "network"
            and entry["message"].startswith(expected_status_url + " ")
        ):
            continue
        found.append(entry["message"])
    return found


def visit(driver: webdriver.Chrome, url: str) -> None:
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get(url)


def wait_for(driver: webdriver.Chrome, css: str) -> None:
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))


def path_of(url: str) -> str:
    return urlsplit(url).path


def assert_fits_and_screenshot(driver: webdriver.Chrome, name: str, height: int) -> None:
    """Screenshot the page at desktop and phone widths, failing if either scrolls sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (DESKTOP, PHONE):
        driver.set_window_size(width, height)
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
        assert driver.execute_script(
            "const e = document.documentElement; return e.scrollWidth <= e.clientWidth;"
        ), f"{name} scrolls sideways at {width} px"
    driver.set_window_size(DESKTOP, 900)


def seed_article_id(base_url: str) -> str:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/api/articles?source=ambcrypto&per_page=100") as r:
        listed = json.load(r)["articles"]
    first_line = SEED_PAGE.read_text(encoding="utf-8").splitlines()[0].strip()
    return next(a["id"] for a in listed if a["title"] == first_line)


def test_ask_seed_question_shows_answer_figures_chart_and_citations(
    browser: webdriver.Chrome, base_url: str
) -> None:
    visit(browser, base_url + "/")
    box = browser.find_element(By.CSS_SELECTOR, "input#q")
    box.send_keys(SEED_QUESTION, Keys.ENTER)
    wait_for(browser, ".answer-text")
    answer = browser.find_element(By.CSS_SELECTOR, ".answer-text").text
    assert "Hyperliquid" in answer and "Binance" in answer
    table = browser.find_element(By.CSS_SELECTOR, "table.figures").text
    assert "Hyperliquid" in table and "$59 million" in table
    chart = browser.find_element(By.CSS_SELECTOR, "svg.chart")
    assert chart.get_attribute("role") == "img" and chart.size["width"] > 200
    assert "Hyperliquid" in chart.find_element(By.TAG_NAME, "desc").get_attribute("textContent")
    assert console_errors(browser) == []

    marker = browser.find_element(By.CSS_SELECTOR, ".answer-text a.cite-ref")
    target = marker.get_attribute("href").split("#")[1]
    marker.click()
    assert browser.execute_script("return location.hash") == f"#{target}"
    cited = browser.find_element(By.ID, target).find_element(By.CSS_SELECTOR, "a.citation-title")
    title = cited.text
    # Follow the link from the keyboard: Selenium's click point for this wrapped inline link
    # falls outside its line boxes, and Enter on a focused link is what a keyboard user does.
    cited.send_keys(Keys.ENTER)
    WebDriverWait(browser, WAIT).until(lambda d: path_of(d.current_url).startswith("/articles/"))
    assert path_of(browser.current_url) == f"/articles/{seed_article_id(base_url)}"
    assert browser.find_element(By.TAG_NAME, "h1").text == title
    assert console_errors(browser) == []


def test_related_article_link_opens_that_article(browser: webdriver.Chrome, base_url: str) -> None:
    seed_id = seed_article_id(base_url)
    visit(browser, f"{base_url}/articles/{seed_id}")
    link = browser.find_element(By.CSS_SELECTOR, "a.related-link")
    title, href = link.text, link.get_attribute("href")
    assert path_of(href) != f"/articles/{seed_id}"
    link.click()
    WebDriverWait(browser, WAIT).until(lambda d: d.current_url == href)
    assert browser.find_element(By.TAG_NAME, "h1").text == title
    assert console_errors(browser) == []


def test_extract_pasted_seed_text_and_download_csv(
    browser: webdriver.Chrome, base_url: str, downloads: Path
) -> None:
    visit(browser, base_url + "/extract")
    area = browser.find_element(By.ID, "text")
    # Setting the value is what a paste does; typing 10,000 characters would only be slower.
    browser.execute_script(
        "arguments[0].value = arguments[1];", area, SEED_PAGE.read_text(encoding="utf-8")
    )
    browser.find_element(By.CSS_SELECTOR, ".extract-form button[type=submit]").click()
    wait_for(browser, "table.figures")
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "table.figures tbody tr")]
    assert any(
        "Hyperliquid" in r and "$59 million" in r and "long liquidations" in r for r in rows
    ), rows
    assert console_errors(browser) == []
    assert_fits_and_screenshot(browser, "extract-result", 2400)

    for old in downloads.glob("*"):
        old.unlink()
    browser.find_element(By.ID, "download-csv").click()
    saved = downloads / "figures.csv"
    deadline = time.monotonic() + WAIT
    while not saved.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert saved.exists(), f"no CSV downloaded; found {os.listdir(downloads)}"
    table = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert len(table) == len(rows)
    assert any(
        r["entity"] == "Hyperliquid"
        and r["side"] == "long"
        and r["metric"] == "liquidations"
        and float(r["value"]) == 59e6
        for r in table
    )


def ingest_for_series(server, records: list[dict]) -> None:  # noqa: ANN001 - conftest's LiveServer
    """POST made-up articles to the live server's /api/ingest with its token."""
    import urllib.request

    request = urllib.request.Request(
        f"{server.base_url}/api/ingest",
        data=json.dumps({"articles": records}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=WAIT) as reply:
        assert reply.status == 200


def note(tag: str, source: str, published: str, sentence: str) -> dict[str, str]:
    """A made-up article (no shared text) whose one figure sentence is ``sentence``."""
    return {
        "url": f"https://example.test/figures-page/{tag}",
        "title": f"Figures page note {tag}",
        "published": published,
        "source": source,
        "text": f"Desk note {tag} for the figures page. {sentence} The note ends here.",
    }


def test_figures_page_charts_a_series_and_each_point_opens_its_passage(
    browser: webdriver.Chrome, base_url: str, request: pytest.FixtureRequest
) -> None:
    ingest_for_series(
        request.getfixturevalue("live_server"),
        [
            note(
                "f1", "Desk One", "2033-06-02", "Bybit recorded $30 million in long liquidations."
            ),
            note(
                "f2", "Desk One", "2033-06-07", "Bybit recorded $45 million in long liquidations."
            ),
            note("f3", "Desk Two", "2033-06-07", "Long liquidations on Bybit came to $70 million."),
            note(
                "f4",
                "Desk Two",
                "2033-06-15",
                "On June 12, 2033, Bybit recorded $52 million in long liquidations.",
            ),
        ],
    )
    visit(browser, base_url + "/figures")
    browser.find_element(By.ID, "entity").send_keys("Bybit")
    for field, value in (("metric", "liquidations"), ("side", "long")):
        browser.find_element(By.CSS_SELECTOR, f"#{field} option[value='{value}']").click()
    # A date field's typed form depends on the browser's locale; set its value as a picker does.
    for field, value in (("since", "2033-06-01"), ("until", "2033-06-30")):
        browser.execute_script(
            "document.getElementById(arguments[0]).value = arguments[1];", field, value
        )
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait_for(browser, "svg.timeline")
    chart = browser.find_element(By.CSS_SELECTOR, "svg.timeline")
    assert chart.get_attribute("role") == "img" and chart.size["width"] > 250
    titles = [
        t.get_attribute("textContent") for t in chart.find_elements(By.CSS_SELECTOR, "circle title")
    ]
    assert len(titles) == 4
    assert sum("(disputed)" in t for t in titles) == 2
    assert len(chart.find_elements(By.CSS_SELECTOR, "circle.disputed")) == 2
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "table.series-table tbody tr")]
    assert [r.split()[0] for r in rows] == ["2033-06-02", "2033-06-07", "2033-06-07", "2033-06-12"]
    assert "(stated)" in rows[-1]
    assert "disputed" in rows[1].lower() and "disputed" not in rows[0].lower()
    assert console_errors(browser) == []
    assert_fits_and_screenshot(browser, "figures-disputed", 1600)

    stated = next(
        link
        for link in chart.find_elements(By.CSS_SELECTOR, "a")
        if "2033-06-12" in link.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    )
    browser.get_log("browser")
    stated.click()
    wait_for(browser, "mark#figure")
    assert browser.find_element(By.CSS_SELECTOR, "mark#figure").text == "$52 million"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Figures page note f4"
    assert browser.execute_script("return location.hash") == "#figure"
    assert console_errors(browser) == []


def test_an_answer_with_a_dated_history_shows_its_series_chart(
    browser: webdriver.Chrome, base_url: str
) -> None:
    # A question about the asset the shared corpus dates most often: its answer's figure has
    # many dated points, so the Ask page draws them and links the Figures page.
    visit(browser, base_url + "/?q=" + "How much did Bitcoin drop?".replace(" ", "+"))
    wait_for(browser, ".answer-text")
    chart = browser.find_element(By.CSS_SELECTOR, ".series-figure svg.timeline")
    assert chart.get_attribute("role") == "img"
    assert len(chart.find_elements(By.CSS_SELECTOR, "circle")) >= 3
    link = browser.find_element(By.CSS_SELECTOR, ".series-figure figcaption a")
    assert path_of(link.get_attribute("href")) == "/figures"
    link.send_keys(Keys.ENTER)
    wait_for(browser, "table.series-table")
    assert browser.find_element(By.CSS_SELECTOR, "svg.timeline")
    assert console_errors(browser) == []


PAGES = {
    "ask": "/",
    "answer": "/?q=" + SEED_QUESTION.replace(" ", "+").replace("?", "%3F"),
    "articles": "/articles",
    "articles-filtered": "/articles?entity=Binance",
    "article": "/articles/{seed}",
    "extract": "/extract",
    "figures": "/figures",
    "figures-series": "/figures?entity=Bitcoin&metric=price_change",
    "figures-bad": "/figures?entity=Bitcoin&metric=vibes",
    "not-found": "/articles/000000000000",
    "empty-question": "/?q=",
}
EXPECTED_ERRORS = {"not-found", "empty-question", "figures-bad"}


@pytest.mark.parametrize("width", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_layout_and_screenshot(
    browser: webdriver.Chrome, base_url: str, name: str, width: int
) -> None:
    url = base_url + PAGES[name].format(seed=seed_article_id(base_url))
    browser.set_window_size(width, 900)
    try:
        visit(browser, url)
        wait_for(browser, "main h1")
        scroll_width, client_width = browser.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
        )
        height = browser.execute_script("return document.documentElement.scrollHeight;")
        browser.set_window_size(width, min(max(height, 600) + 140, 6000))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
        assert scroll_width <= client_width, (
            f"{name} scrolls sideways at {width} px: content is {scroll_width} px wide"
        )
        assert console_errors(browser, url if name in EXPECTED_ERRORS else None) == []
        assert browser.find_element(By.CSS_SELECTOR, "link[rel=stylesheet]")
        assert "Traceback" not in browser.page_source
    finally:
        browser.set_window_size(DESKTOP, 900)
