"""End-to-end fixtures: a real server (uvicorn, fresh migrated SQLite, fake speech engine,
two in-process workers) and a real headless Chromium driven by Playwright.

Chromium is the Debian package at /usr/bin/chromium (`make test` installs it). These tests
never skip: without it they fail and say how to get it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tapeworks.users import service as users
from tests.conftest import LiveServer
from tests.helpers.api import login

CHROMIUM = os.environ.get("TAPEWORKS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}. `make test` installs the Debian "
                    "package chromium when run as root; otherwise: sudo apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@dataclass
class Site:
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url

    def add_user(self, email: str, *, plan: str = "free", role: str = "user") -> str:
        with self.server.runtime.database.transaction() as db:
            return users.create_user(db, email=email, password=PASSWORD, plan=plan, role=role).id

    def setup_url(self) -> str:
        """The first-run link `tapeworks serve` prints (a fresh setup token)."""
        with self.server.runtime.database.transaction() as db:
            return f"{self.url}/setup?token={users.new_setup_token(db)}"

    def bearer(self, email: str) -> dict[str, str]:
        return login(self.server.client, email, PASSWORD)


@pytest.fixture
def site(live_server: Callable[..., LiveServer], fresh_db_url: Callable[[str], str]) -> Site:
    """A real server on a fresh SQLite database; jobs run on 2 in-process workers."""
    srv = live_server(fresh_db_url("sqlite"), workers=2, fake_realtime_factor=0.15,
                      job_heartbeat_seconds=0.5, job_lease_seconds=10)
    return Site(srv)


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Factory: a page in its own browser context (own cookies), desktop size by default."""
    contexts: list[Any] = []
    violations: list[str] = []

    def make(width: int = 1280, height: int = 900) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        # The Content-Security-Policy refuses inline script: a page that relies on one shows
        # up here (Chromium reports every refusal on the console).
        page.on("console", lambda msg: violations.append(msg.text)
                if "Content Security Policy" in msg.text else None)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not violations, f"the pages broke their Content-Security-Policy: {violations}"


def sign_in(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")
