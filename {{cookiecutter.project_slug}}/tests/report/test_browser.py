"""The reports as a reader meets them: index.html and the report opened in headless Chromium.

Playwright drives the system's Chromium (Debian: ``apt-get install chromium``; Playwright's own
browser download is not needed). Screenshots of both pages are saved in the run's
``reports/screenshots/``.
"""

import os
import re
import shutil
from urllib.parse import unquote, urlparse

import pytest

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)

# Skipped on a machine without Chromium, never in CI (CI=true), where the check must run.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                       reason="no Chromium on PATH (Debian: apt-get install chromium)"),
]

# A number with more than four significant decimals (leading zeros after the point do not
# count: 0.00244 is rounded, 9.934992 is not): a table or sentence that was not rounded.
UNROUNDED = re.compile(r"\d\.0*[1-9]\d{4,}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser, path):
    """The page loaded, with every console error, script error and failed request it caused."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"could not load {request.url}"))
    page.goto(path.as_uri(), wait_until="load")
    return page, problems


@pytest.mark.parametrize("name", ["index.html", "07_report.html"])
def test_page_loads_cleanly_with_every_image_and_link(browser, pipeline_run, name):
    config, _ = pipeline_run
    path = config.reports_dir / name
    page, problems = open_page(browser, path)
    assert problems == []

    images = page.eval_on_selector_all("img", "images => images.map(image => image.complete && image.naturalWidth > 0)")
    assert all(images), f"{images.count(False)} of {len(images)} images did not load"

    for href in page.eval_on_selector_all("a[href]", "links => links.map(link => link.getAttribute('href'))"):
        if href.startswith("#"):
            assert page.locator(f"[id='{href[1:]}']").count() == 1, f"{name}: no anchor {href}"
        else:
            assert not urlparse(href).scheme, f"{name} links outside the reports: {href}"
            assert (path.parent / unquote(urlparse(href).path)).exists(), f"{name}: {href} does not exist"

    text = page.inner_text("body")
    assert not UNROUNDED.findall(text), f"{name} shows unrounded numbers: {UNROUNDED.findall(text)[:5]}"

    screenshots = config.reports_dir / "screenshots"
    screenshots.mkdir(exist_ok=True)
    page.screenshot(path=screenshots / f"{path.stem}.png", full_page=True)
    assert (screenshots / f"{path.stem}.png").stat().st_size > 10_000


def test_report_has_contents_numbered_figures_and_no_code(browser, pipeline_run):
    config, _ = pipeline_run
    page, _ = open_page(browser, config.reports_dir / "07_report.html")
    contents = page.eval_on_selector_all("nav.toc a", "links => links.map(link => link.textContent)")
    sections = page.eval_on_selector_all("h2", "headings => headings.map(heading => heading.textContent.replace('¶', ''))")
    assert contents == sections and {"Summary", "Group effects", "Groups that stand out", "Model comparison",
                                     "Provenance"} <= set(contents)
    text = page.inner_text("body")
    assert "the probability that it has the sign of its median" in text and "practically non-zero" in text  # pd, ROPE
    assert "WAIC ranks the models" in text
    provenance = text[text.index("What reproduces this report"):text.index("The config used")]
    assert "{" not in provenance and "config/analysis.yaml" in provenance, "provenance as tables, not JSON"
    assert str(config.root.resolve()) not in page.content(), "a path of the machine in the report"
    captions = page.eval_on_selector_all("p.caption strong", "captions => captions.map(caption => caption.textContent)")
    assert captions == [f"Figure {number}." for number in range(1, len(captions) + 1)] and len(captions) >= 3
    assert page.locator("img").count() == len(captions), "every figure has a caption"
    assert page.locator(".jp-InputArea-editor").count() == 0, "the report shows no code"
    callouts = page.eval_on_selector_all("blockquote", "quotes => quotes.map(quote => getComputedStyle(quote).backgroundColor)")
    assert callouts and set(callouts) == {"rgb(255, 248, 229)"}, "warnings are coloured callouts"
