"""Debian's Chromium driven by Playwright, launched the same way by every browser test.
Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from conftest import ROOT

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SHOTS = ROOT / "test-artifacts"
CITATIONS = "#chat details.citation"
BOT_MESSAGES = "#chat .message.bot, #chat [data-testid=bot]"
# one element per message (BOT_MESSAGES matches two), for counting
USER_MESSAGES, ONE_PER_ANSWER = "#chat [data-testid=user]", "#chat [data-testid=bot]"
# the two screens the officials and trainers used: a laptop and a phone
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


@contextmanager
def chromium() -> Iterator[Callable]:
    """Headless Chromium; yields `open_page(url, ...)`, which opens a page in a context of its own
    (its own localStorage and login, like another browser)."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)

        def open_page(url: str, *, height: int = 1100, width: int = 1280, timeout_s: float = 300, on_dialog=None,
                      permissions: tuple[str, ...] = (), login: tuple[str, str] | None = None):
            """A page on `url` (an English browser: the page must be Chinese anyway); `on_dialog`
            sees every alert/confirm the page opens; `login` is (user, password) for HTTP Basic."""
            credentials = {"username": login[0], "password": login[1]} if login else None
            context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US",
                                          http_credentials=credentials)
            if permissions:
                context.grant_permissions(list(permissions), origin=url.rstrip("/"))
            page = context.new_page()
            page.set_default_timeout(timeout_s * 1000)
            if on_dialog:
                page.on("dialog", on_dialog)
            page.goto(url)
            return page

        try:
            yield open_page
        finally:
            browser.close()


@contextmanager
def chromium_page(url: str, **options) -> Iterator:
    """One page on `url` in a browser of its own (options: `chromium`'s `open_page`)."""
    with chromium() as open_page:
        yield open_page(url, **options)


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


def new_chat(page) -> None:
    """Press 新对话 and wait until its reset is done (it empties the question box too)."""
    page.locator("#question textarea").fill("未发送的草稿")
    page.locator("#new-chat").click()
    page.wait_for_function(f"() => !document.querySelectorAll('{BOT_MESSAGES}').length"
                           " && document.querySelector('#question textarea').value === ''")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page at rest, one line each.

    Gradio fades a component to 0.2 opacity while an event that updates it runs; that
    passing state is not what the official reads, so the check waits for it to end."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_function("() => !document.querySelector('.pending')")
    found = Axe().run(page).response["violations"]
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def in_view(page, selector: str) -> bool:
    """Whether the element is inside the window as it is scrolled now (not merely in the page)."""
    return page.locator(selector).first.evaluate(
        "el => { const r = el.getBoundingClientRect();"
        " return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth; }"
    )
