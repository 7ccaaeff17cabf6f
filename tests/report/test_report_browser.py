"""The report in a real browser: Debian's headless Chromium, driven by Selenium, opening the file from disk.

Chromium is part of the test setup (``.ci/run`` installs it): without it these tests fail, they do not skip.
The screenshot in the README (``docs/report.png``) is taken here, with ``TRAILSMITH_SCREENSHOT=1``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

import trailsmith
from helpers.paths import ROOT
from trailsmith.report import build, render
from trailsmith.sql.db import close

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def page(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_bytes(render.render(build.gather(sample_warehouse)))
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "Debian's chromium and chromium-driver are needed: apt-get install chromium chromium-driver"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def opened(browser: WebDriver, page: Path) -> WebDriver:
    browser.get(page.as_uri())
    browser.get_log("browser")  # start each test with an empty log
    browser.refresh()
    return browser


def rows(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#principal-table tbody tr")


def column(driver: WebDriver, index: int) -> list[str]:
    return [
        r.find_elements(By.TAG_NAME, "td")[index].get_attribute("data-sort") or ""
        for r in rows(driver)
        if r.is_displayed()
    ]


def test_no_console_errors(opened: WebDriver) -> None:
    assert opened.find_element(By.ID, "principal-table").is_displayed()
    problems = [e for e in opened.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert problems == []


def test_the_table_sorts(opened: WebDriver) -> None:
    header = opened.find_elements(By.CSS_SELECTOR, "#principal-table th")
    header[1].click()  # calls: ascending first
    calls = [int(v) for v in column(opened, 1)]
    assert calls == sorted(calls) and calls[0] < calls[-1]
    header[1].click()
    assert [int(v) for v in column(opened, 1)] == sorted(calls, reverse=True)
    header[0].click()
    names = column(opened, 0)
    assert names == sorted(names, key=str.lower) and header[0].get_attribute("aria-sort") == "ascending"
    problems = [e for e in opened.get_log("browser") if e["level"] == "SEVERE"]
    assert problems == []


def test_the_table_filters(opened: WebDriver, sample_warehouse: Path) -> None:
    [expected] = trailsmith.query(
        "SELECT count(*) AS n FROM principals WHERE principalArn ILIKE '%data-pipeline%'", sample_warehouse
    ).to_pylist()
    box = opened.find_element(By.ID, "filter")
    box.send_keys("Data-Pipeline")
    visible = [r for r in rows(opened) if r.is_displayed()]
    assert 0 < len(visible) == expected["n"] < len(rows(opened))
    assert all("data-pipeline" in r.text for r in visible)
    assert opened.find_element(By.ID, "shown").text == f"{expected['n']} shown"
    box.clear()
    box.send_keys("x")
    box.clear()
    box.send_keys(" ")  # matches nothing: no ARN holds a space
    assert [r for r in rows(opened) if r.is_displayed()] == []


def test_a_principal_s_section_opens(opened: WebDriver) -> None:
    section = opened.find_element(By.ID, "p1")
    policy = section.find_element(By.CSS_SELECTOR, "pre.policy")
    assert not policy.is_displayed()
    link = rows(opened)[1].find_element(By.CSS_SELECTOR, "a.open")
    link.click()
    assert section.get_attribute("open") is not None and policy.is_displayed()
    assert '"Version": "2012-10-17"' in policy.text
    assert section.find_element(By.CSS_SELECTOR, "svg.chart").is_displayed()
    opened.find_element(By.CSS_SELECTOR, "#p2 > summary").click()
    assert opened.find_element(By.CSS_SELECTOR, "#p2 pre.policy").is_displayed()


def test_the_numbers_shown_match_sql(opened: WebDriver, sample_warehouse: Path) -> None:
    connection = trailsmith.connect(sample_warehouse)
    try:
        [events] = connection.sql("SELECT count(*) FROM events").fetchall()
        top = connection.sql(
            "SELECT principalArn, calls, denied, count(DISTINCT eventSource) AS services "
            "FROM principals JOIN (SELECT principalArn, eventSource FROM calls) USING (principalArn) "
            "GROUP BY ALL ORDER BY calls DESC, principalArn LIMIT 3"
        ).fetchall()
    finally:
        close(connection)
    assert opened.find_element(By.ID, "events").text == f"{events[0]:,}"
    shown = {
        cells[0].text: [c.text for c in cells[1:4]]
        for cells in (r.find_elements(By.TAG_NAME, "td") for r in rows(opened)[:3])
    }
    assert shown == {
        arn: [f"{calls:,}", f"{services:,}", f"{denied:,}"] for arn, calls, denied, services in top
    }
    if os.environ.get("TRAILSMITH_SCREENSHOT"):
        screenshot(opened)


def screenshot(driver: WebDriver) -> None:
    """docs/report.png, as the README shows it: the archive, the table filtered, one section open."""
    driver.refresh()
    driver.set_window_size(1280, 1900)
    driver.find_element(By.ID, "filter").send_keys("data-pipeline")
    driver.find_element(By.CSS_SELECTOR, "#p0 > summary").click()
    driver.execute_script("window.scrollTo(0, 0)")
    target = ROOT / "docs" / "report.png"
    driver.save_screenshot(str(target))
    assert target.stat().st_size > 10_000
