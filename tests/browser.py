"""Debian's Chromium driven by Playwright, launched the same way by every browser test.
Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from conftest import ROOT

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SHOTS = ROOT / "test-artifacts"
CITATIONS = "#chat details.citation"
BOT_MESSAGES = "#chat .message.bot, #chat [data-testid=bot]"


@contextmanager
def chromium_page(url: str, *, height: int = 1100, timeout_s: float = 300, on_dialog=None) -> Iterator:
    """A headless page on `url`; `on_dialog` sees every alert/confirm the page opens."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height}, locale="en-US")
            page.set_default_timeout(timeout_s * 1000)
            if on_dialog:
                page.on("dialog", on_dialog)
            page.goto(url)
            yield page
        finally:
            browser.close()


def ask(page, question: str, answers_before: int) -> float:
    """Type a question and press Enter; seconds until the first streamed text replaced the
    placeholder (reported, not asserted), then wait for the whole answer and its citations."""
    box = page.locator("#question textarea")
    box.fill(question)
    started = time.perf_counter()
    box.press("Enter")
    page.wait_for_function(
        "n => { const bots = document.querySelectorAll('" + BOT_MESSAGES + "');"
        " const last = bots[bots.length - 1]; return bots.length > n && last && last.innerText.trim()"
        " && !last.innerText.includes('正在查找'); }",
        arg=answers_before,
    )
    first_token = time.perf_counter() - started
    page.wait_for_function(f"n => document.querySelectorAll('{CITATIONS}').length > n", arg=answers_before)
    return first_token
