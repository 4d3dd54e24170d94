"""The console in a real browser (Debian's headless Chromium driven by Playwright) against a real
`offload serve` and a real `offload console` sharing one SQLite store: the live list, filters, the
task page, cancel with confirmation, and the token prompt.

Set OFFLOAD_SCREENSHOTS=DIR to keep screenshots of the list and a task page (docs/ holds two).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import CHROMIUM_FLAGS, ConsoleProcess, chromium_path

from helpers import DEADLINE_S, Client, ServerProcess, wait_until

OPS_SERVER = str(Path(__file__).parent / "ops_server.py")
TOKEN = "browser-token"
TIMEOUT_MS = DEADLINE_S * 1000


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.marks = tmp / "marks"
        self.marks.mkdir()
        self.store = "sqlite:///tasks.db"  # both processes run in `tmp`
        self.server = ServerProcess(
            OPS_SERVER, tmp / "tasks.db", tmp / "server.log", store=self.store, env={"OPS_MARKS": str(self.marks)}
        )
        self.client = Client(self.server.url)
        self.console = ConsoleProcess(self.store, tmp / "console.log", token=TOKEN)

    def stop(self) -> None:
        self.client.close()
        self.console.stop()
        self.server.stop()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def page() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 720})
            tab.set_default_timeout(TIMEOUT_MS)
            yield tab
        finally:
            browser.close()


def shoot(page: Any, name: str) -> None:
    where = os.environ.get("OFFLOAD_SCREENSHOTS")
    if where:
        page.screenshot(path=str(Path(where) / name), full_page=True)


def test_live_list_filters_task_page_and_cancel(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    done = stack.client.start_task("echo", {"text": "hello console"})
    stack.client.wait_for(done)
    broke = stack.client.start_task("boom", {"text": "disk full"})  # a tool error: completed, isError
    stack.client.wait_for(broke)
    parked = stack.client.start_task("ask", {"question": "Deploy to production?"})
    stack.client.wait_for(parked, ("input_required",))

    page.goto(f"{stack.console.url}?token={TOKEN}")
    assert "token=" not in page.url  # taken from the address, kept for the tab only
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator(f'tr[data-task="{parked}"]')).to_contain_text("input required")

    # A task created elsewhere shows up without a reload.
    held = stack.client.start_task("hold", {"tag": "h1"})
    expect(rows).to_have_count(4)
    expect(page.locator(f'tr[data-task="{held}"]')).to_contain_text("working")
    expect(page.locator(".count.working b")).to_have_text("1")
    shoot(page, "console-list.png")

    # Filters: the status select, and a count chip.
    page.select_option("select[name=status]", "completed")
    expect(rows).to_have_count(2)
    expect(page.locator(f'tr[data-task="{broke}"]')).to_have_count(1)
    assert "status=completed" in page.url
    page.click(".count.input_required")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-task", parked)
    expect(page.locator("select[name=status]")).to_have_value("input_required")
    page.click("button[type=reset]")
    expect(rows).to_have_count(4)
    page.fill("input[name=tool]", "ask")
    expect(rows).to_have_count(1)
    page.click("button[type=reset]")
    expect(rows).to_have_count(4)

    # The parked task's page shows what it waits for; a finished one its result.
    page.click(f'tr[data-task="{parked}"] a')
    expect(page.locator("#t-status")).to_have_text("input required")
    expect(page.locator("#t-sections")).to_contain_text("Deploy to production?")
    shoot(page, "console-task.png")
    page.goto(f"{stack.console.url}#/task/{done}")
    expect(page.locator("#t-status")).to_have_text("completed")
    expect(page.locator("#t-sections")).to_contain_text("echo: hello console")
    page.goto(f"{stack.console.url}#/task/{broke}")
    expect(page.locator("#t-sections h3").first).to_have_text("Result (the tool reported an error)")
    expect(page.locator("#t-sections")).to_contain_text("Error executing tool boom")
    expect(page.locator("#t-cancel")).to_be_hidden()  # nothing to cancel

    # Cancel the running one: the dialog asks first; "keep" changes nothing.
    page.goto(f"{stack.console.url}#/task/{held}")
    expect(page.locator("#t-status")).to_have_text("working")
    page.click("#t-cancel")
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.locator("#confirm-id")).to_have_text(held)
    page.click("#confirm button[value=keep]")
    expect(page.locator("#confirm")).to_be_hidden()
    assert stack.client.get(held)["status"] == "working"
    page.click("#t-cancel")
    page.click("#confirm-yes")
    expect(page.locator("#t-status")).to_have_text("cancelled")
    expect(page.locator("#t-message")).to_have_text("Cancelled by an operator")
    wait_until(lambda: (stack.marks / "h1.stopped").exists(), what="the tool to stop")
    assert stack.client.get(held)["status"] == "cancelled"
    page.click("text=← all tasks")
    expect(page.locator(f'tr[data-task="{held}"]')).to_contain_text("cancelled")


def test_token_prompt(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(stack.console.url)
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#list-view")).to_be_hidden()
    page.fill("#login-token", "wrong")
    page.click("#login-form button")
    expect(page.locator("#login-error")).to_have_text(re.compile("not accepted"))
    page.fill("#login-token", TOKEN)
    page.click("#login-form button")
    expect(page.locator("#list-view")).to_be_visible()
    expect(page.locator("#live")).to_have_text("live")
    page.reload()  # kept for the tab
    expect(page.locator("#list-view")).to_be_visible()
