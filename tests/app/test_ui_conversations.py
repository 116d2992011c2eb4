"""历史对话 in a real browser: past conversations kept per browser (or per login), reopened with
their citations and their history, renamed, deleted, and still there after the server process is
restarted on the same data folder. Debian's Chromium at a laptop's size and a phone's."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from contextlib import closing

import httpx
import pytest
from pydantic import SecretStr

from assistant.app.conversation_store import MAX_TITLE_CHARS, ConversationStore
from support.browser import (CITATIONS, ONE_PER_ANSWER, SHOTS, SIZES, USER_MESSAGES, ask, chromium, in_view, new_chat,
                     serious_violations)
from support.cli_runner import EXECUTABLE
from support.live_server import free_port, running, wait_for_health

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=__xss=1>"  # within the 30 characters a title may have
FIRST, SECOND = "杭州有多少个产业集群？", "我省产业集群存在哪些主要问题？"


def list_titles(page) -> list[str]:
    """The titles listed in 历史对话, in order (each entry is its title, then its time), folded or not."""
    return [label.split("\n")[0] for label in page.locator("#conv-list label span").all_text_contents()]


def show_list(page) -> None:
    """The list in view: on a phone it is folded behind 历史对话 until opened."""
    toggle = page.locator("#conv-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
        page.locator("#conv-toggle[aria-expanded=true]").wait_for()


def reopen(page, title: str, first_question: str, turns: int) -> None:
    """Click a conversation in the list and wait until its `turns`, the first one `first_question`,
    show with their citations."""
    show_list(page)
    page.locator("#conv-list label", has_text=title).click()
    page.wait_for_function(
        "([n, first]) => { const asked = document.querySelectorAll('" + USER_MESSAGES + "'),"
        " answers = document.querySelectorAll('" + ONE_PER_ANSWER + "');"
        " return asked.length === n && asked[0].innerText.trim() === first && answers.length === n"
        " && answers[n - 1].querySelector('button.copy-answer'); }",
        arg=[turns, first_question],
    )


def note(page, text: str) -> None:
    page.locator(".conv-note", has_text=text).wait_for()


NAME_BOX = "#conv-new-name textarea, #conv-new-name input"


def rename_to(page, title: str) -> None:
    """Type a name into the rename form (opened, with the title filled in, if it is not open) and save it."""
    show_list(page)
    if not page.locator("#conv-rename").is_visible():
        page.locator("#conv-rename-open").click()
        page.wait_for_function("sel => document.querySelector(sel)?.value", arg=NAME_BOX)
    page.locator(NAME_BOX).first.fill(title)
    page.locator("#conv-rename-save").click()


def last_answer(data_dir, page):
    """The answer last stored for the page's browser (found by the title it lists first)."""
    store = ConversationStore(data_dir)
    with closing(sqlite3.connect(store.path)) as db:  # the store reads one owner at a time; a test looks across
        [(owner,)] = db.execute("SELECT DISTINCT owner FROM conversations WHERE title = ?", (list_titles(page)[0],)).fetchall()
    return store.get(owner, store.conversations(owner)[0].id).answers[-1]


def first_screen_is_the_chat(page) -> None:
    """On a phone the list is folded into a button on the tab bar's line: the examples, the chat
    and the question box keep the first screen."""
    assert not page.locator("#conv-list").is_visible()
    assert in_view(page, "#conv-toggle") and page.locator("#conv-toggle").get_attribute("aria-expanded") != "true"
    tabs, toggle = page.locator("[role=tablist]").bounding_box(), page.locator("#conv-toggle").bounding_box()
    last_tab = page.get_by_role("tab").last.bounding_box()
    assert tabs["y"] <= toggle["y"] and toggle["y"] + toggle["height"] <= tabs["y"] + tabs["height"] + 2
    assert toggle["x"] > last_tab["x"] + last_tab["width"]
    assert in_view(page, "#question textarea")


def converse(page, size: str, data_dir) -> str:
    """Two conversations, the first reopened and continued with a follow-up that needs its history,
    renamed (bad names refused in one line, an HTML name kept as text), the second deleted.
    Returns the title the first conversation ends with."""
    if size == "phone":
        first_screen_is_the_chat(page)
    show_list(page)
    note(page, "还没有保存的对话")
    ask(page, FIRST, 0)
    first_answer = page.locator(ONE_PER_ANSWER).first.locator(".message-content, .message").first.inner_html()
    new_chat(page)
    ask(page, SECOND, 0)
    show_list(page)
    page.wait_for_function("() => document.querySelectorAll('#conv-list label').length === 2")
    assert list_titles(page) == [SECOND, FIRST]  # newest first, titled with their first question
    assert page.locator("#conv-list label span").first.text_content().split("\n")[1][2] == "-"  # 11-29 14:03
    page.screenshot(path=str(SHOTS / f"conversations-list-{size}.png"))

    reopen(page, FIRST, FIRST, 1)
    if size == "phone":
        assert not page.locator("#conv-list").is_visible()  # choosing folds the list: the chat shows
    assert page.locator(ONE_PER_ANSWER).first.locator(".message-content, .message").first.inner_html() == first_answer
    page.locator(CITATIONS).first.locator("summary").click()  # as first answered: the passage, the quote marked
    assert "124" in page.locator(CITATIONS).first.locator("mark").first.inner_text()
    ask(page, "那温州呢？", 1)
    assert "73" in page.locator(ONE_PER_ANSWER).last.inner_text()
    follow_up = last_answer(data_dir, page)
    assert follow_up.question == "那温州呢？" and "温州" in follow_up.standalone_question and "产业集群" in follow_up.standalone_question
    show_list(page)
    page.wait_for_function("t => document.querySelector('#conv-list label').innerText.startsWith(t)", arg=FIRST)

    page.locator("#conv-rename-open").click()
    page.wait_for_function("sel => document.querySelector(sel)?.value", arg=NAME_BOX)
    assert page.locator(NAME_BOX).first.input_value() == FIRST
    for bad, says in (("   ", "名称不能为空。"), ("长" * (MAX_TITLE_CHARS + 1), f"最多 {MAX_TITLE_CHARS} 字")):
        rename_to(page, bad)
        note(page, says)
    rename_to(page, XSS)
    page.wait_for_function("t => document.querySelector('#conv-list label').innerText.startsWith(t)", arg=XSS)
    assert page.locator("#conv-list img").count() == 0 and page.evaluate("window.__xss") is None
    title = f"杭州温州对比（{size}）"
    rename_to(page, title)
    note(page, f"已重命名为「{title}」")
    assert list_titles(page) == [title, SECOND]

    reopen(page, SECOND, SECOND, 1)
    show_list(page)
    page.locator("#conv-delete").click()
    page.locator("#conv-confirm", has_text=f"删除「{SECOND}」？").wait_for()
    page.screenshot(path=str(SHOTS / f"conversations-delete-{size}.png"))
    page.locator("#conv-delete-confirm").click()
    note(page, f"已删除「{SECOND}」")
    assert list_titles(page) == [title]
    assert page.locator(USER_MESSAGES).count() == 0  # deleting the open conversation starts a fresh one
    assert serious_violations(page) == []
    return title


def serve(port: int, data_dir, report_settings) -> subprocess.Popen:
    """`assistant serve` as its own process, on `port`, answering from the report's index."""
    env = {**os.environ, "ASSISTANT_PERSIST_DIR": str(report_settings.persist_dir),
           "ASSISTANT_CORPUS_DIR": str(report_settings.corpus_dir), "ASSISTANT_DATA_DIR": str(data_dir),
           "ASSISTANT_EMBEDDING": "hashing"}
    process = subprocess.Popen([EXECUTABLE, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    wait_for_health(process, f"http://127.0.0.1:{port}")
    return process


def test_conversations_are_kept_per_browser_reopened_renamed_deleted_and_survive_a_restart(
        report_settings, report_assistant, tmp_path):
    settings = report_settings.model_copy(update={"data_dir": tmp_path / "data"})
    port, server = free_port(), None
    try:
        with chromium() as open_page:
            pages = {}  # two browsers, each with its own localStorage: a laptop's and a phone's
            with running(settings, report_assistant, port=port) as url:
                for size, (width, height) in SIZES.items():
                    pages[size] = page = open_page(url, width=width, height=height, timeout_s=60)
                    page.locator("#chat").wait_for()
                    title = converse(page, size, settings.data_dir)
                    assert list_titles(page) == [title]  # one browser never lists the other's
                for page in pages.values():
                    page.goto("about:blank")  # the pages' event streams closed, the server stops at once

            server = serve(port, settings.data_dir, report_settings)  # a new process on the same data folder
            for size, page in pages.items():
                page.goto(url)  # the same address: the browser's id is read back from its localStorage
                page.locator("#chat").wait_for()
                show_list(page)
                title = f"杭州温州对比（{size}）"
                page.wait_for_function("() => document.querySelectorAll('#conv-list label').length > 0")
                assert list_titles(page) == [title]
                reopen(page, title, FIRST, 2)
                assert "73" in page.locator(ONE_PER_ANSWER).last.inner_text()
                ask(page, "那宁波呢？", 2)  # the history came back with it
                after = last_answer(settings.data_dir, page)
                assert "宁波" in after.standalone_question and "产业集群" in after.standalone_question and after.answerable
                page.screenshot(path=str(SHOTS / f"conversations-after-restart-{size}.png"))
    finally:
        if server:
            server.terminate()
            server.communicate(timeout=60)


def test_with_a_login_the_list_is_the_users_on_any_browser_and_no_one_elses(report_settings, report_assistant, tmp_path):
    settings = report_settings.model_copy(update={"data_dir": tmp_path / "data", "auth": SecretStr("ann:pw-ann,bob:pw-bob")})
    with running(settings, report_assistant) as url, chromium() as open_page:
        assert httpx.get(url).status_code == 401
        laptop = open_page(url, width=SIZES["desktop"][0], height=SIZES["desktop"][1], timeout_s=60, login=("ann", "pw-ann"))
        laptop.locator("#chat").wait_for()
        ask(laptop, FIRST, 0)
        laptop.wait_for_function("() => document.querySelectorAll('#conv-list label').length === 1")
        phone = open_page(url, width=SIZES["phone"][0], height=SIZES["phone"][1], timeout_s=60, login=("ann", "pw-ann"))
        bob = open_page(url, width=SIZES["desktop"][0], height=SIZES["desktop"][1], timeout_s=60, login=("bob", "pw-bob"))
        show_list(phone)
        phone.wait_for_function("() => document.querySelectorAll('#conv-list label').length === 1")
        assert list_titles(phone) == [FIRST]  # ann's, on another browser
        reopen(phone, FIRST, FIRST, 1)
        note(bob, "还没有保存的对话")
        assert list_titles(bob) == []

        # deleted on the laptop, then to be renamed on the phone: one line says so, the list is refreshed
        laptop.locator("#conv-delete").click()
        laptop.locator("#conv-delete-confirm").click()
        note(laptop, f"已删除「{FIRST}」")
        show_list(phone)
        phone.locator("#conv-rename-open").click()
        note(phone, "这个对话已不存在（可能已在别的窗口删除）。")
        assert list_titles(phone) == [] and not phone.locator("#conv-actions").is_visible()
        ask(phone, "那温州呢？", 1)  # the turns on screen still carry the conversation on, as a new one
        phone.wait_for_function("() => document.querySelectorAll('#conv-list label').length === 1")
        assert list_titles(phone) == ["那温州呢？"]
    store = ConversationStore(settings.data_dir)
    assert [c.title for c in store.conversations("user:ann")] == ["那温州呢？"] and store.conversations("user:bob") == []


@pytest.mark.parametrize("username, stored, owner_prefix, kept", [
    ("ann", "0123456789abcdef0123456789abcdef", "user:ann", True),  # a login wins, on any browser
    (None, "0123456789abcdef0123456789abcdef", "browser:0123456789abcdef0123456789abcdef", True),
    (None, None, "browser:", False),  # a first visit: a new random id
    (None, "' OR 1=1 --", "browser:", False),  # anything but such an id is replaced, never used
    (None, {"id": 1}, "browser:", False),
])
def test_the_owner_is_the_login_or_the_browsers_own_random_id(username, stored, owner_prefix, kept):
    from assistant.app.ui_chat import owner_of

    owner, browser_id = owner_of(username, stored)
    assert owner.startswith(owner_prefix) and (browser_id == stored) == kept
    if not username:
        assert owner == f"browser:{browser_id}" and len(browser_id) == 32 and owner_of(None, browser_id)[0] == owner


def test_a_list_entry_is_its_title_and_its_china_time():
    from datetime import datetime, timezone

    from assistant.app.conversation_store import ConversationSummary
    from assistant.app.ui_render import CHINA, list_label

    answered = ConversationSummary("c1", "杭州温州对比", datetime(2026, 11, 29, 16, 5, tzinfo=timezone.utc))
    assert list_label(answered, datetime(2026, 12, 1, tzinfo=CHINA)) == "杭州温州对比\n11-30 00:05"
    assert list_label(answered, datetime(2027, 1, 2, tzinfo=CHINA)) == "杭州温州对比\n2026-11-30 00:05"
