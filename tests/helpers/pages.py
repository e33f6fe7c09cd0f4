"""Checking pages in a real Chromium: axe-core (vendored, injected, no network), sideways
scrolling, screenshots, and moving by keyboard only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers.paths import ROOT

AXE_JS = ROOT / "tests" / "e2e" / "vendor" / "axe-core" / "axe.min.js"
# Experimental rules axe leaves off by default that the issue names: a control's accessible
# name must contain its visible text ("0:07" named "Play from 0:06.75" fails).
AXE_OPTIONS = {"resultTypes": ["violations"],
               "rules": {"label-content-name-mismatch": {"enabled": True}}}


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every rule at every impact)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated over the DevTools protocol: the pages' CSP (no inline script) stays on
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
    result: list[dict[str, Any]] = page.evaluate(
        "opts => axe.run(document, opts).then(r => r.violations.map(v => ({id: v.id, "
        "impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target.join(' '), "
        "summary: n.failureSummary}))})))", AXE_OPTIONS)
    return result


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1)[:6000]


def sideways_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scroll)."""
    return int(page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"))


def shot(page: Any, artifacts: Path, name: str, *, full_page: bool = True) -> Path:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def focused(page: Any) -> dict[str, Any]:
    info: dict[str, Any] = page.evaluate(
        """() => { const e = document.activeElement; if (!e) return {};
        return {tag: e.tagName, id: e.id, cls: e.className || '', text: (e.innerText || e.value || '').trim(),
                label: e.getAttribute('aria-label') || '', role: e.getAttribute('role') || ''}; }""")
    return info


def tab_to(page: Any, matches: Any, *, limit: int = 250, backwards: bool = False) -> dict[str, Any]:
    """Press Tab (Shift+Tab) until `matches(focused_info)` is true; the focused element's
    info. Keyboard only: nothing is clicked."""
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        info = focused(page)
        if matches(info):
            return info
        seen.append(f"{info.get('tag')}#{info.get('id')}.{info.get('cls')}:{info.get('text', '')[:30]}")
    raise AssertionError(f"never reached the element by Tab; focus went through: {seen[-40:]}")


def wait_until(page: Any, expression: str, *, timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll a JavaScript expression until it is truthy; its value. Evaluated over the
    DevTools protocol each time, unlike `page.wait_for_function`, whose polling uses eval
    inside the page and is refused by the pages' Content-Security-Policy."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(interval)
