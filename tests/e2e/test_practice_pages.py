"""Issue 17's pages in a real headless Chromium: clients and a client's page (sessions with
dates, minutes and totals), the library filtered by client and searching for moments, the
coaching log (filters, totals, exports, entries added by hand); axe-core, no sideways
scrolling and screenshots at 1280 px and 390 px."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.e2e.conftest import Site, sign_in
from tests.helpers.pages import axe_violations, describe, shot, sideways_overflow
from tests.helpers.practice import transcribed_session, user_id_of

pytestmark = pytest.mark.e2e

WIDTHS = (1280, 390)
HEIGHT = {1280: 900, 390: 844}
EMAIL = "coach@example.com"

TALK = [("S1", "How did the week go at work?"),
        ("S2", "My manager finally talked about the promotion she promised in March."),
        ("S1", "What did you feel when she said it?")]
OTHER = [("S1", "Let us look at your goals for the quarter."),
         ("S2", "Mostly planning, nothing unusual really.")]


def check_page(page: Any, artifacts: Path, name: str, width: int) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {name} at {width} px:\n{describe(violations)}"
    overflow = sideways_overflow(page)
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px: " + str(page.evaluate(
        "() => Array.from(document.querySelectorAll('main *')).filter(e => e.getBoundingClientRect().right"
        " > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)"))
    shot(page, artifacts, f"{name}-{width}")


def cells(page: Any, selector: str) -> list[list[str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        selector, "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
    return rows


def test_clients_their_sessions_the_library_filter_and_the_coaching_log(
        site: Site, new_page: Callable[..., Any], artifacts: Path) -> None:
    site.add_user(EMAIL, plan="pro")
    page = new_page()
    sign_in(page, site.url, EMAIL)

    # a client made with the form lands on its page
    page.goto(site.url + "/clients")
    assert page.locator("#client-list").inner_text().startswith("No clients yet")
    page.get_by_label("Name", exact=True).fill("Dana Whitfield")
    page.get_by_label("E-mail (optional)").fill("not an address")
    page.get_by_label("E-mail (optional)").evaluate("e => e.type = 'text'")  # past the browser's check
    page.get_by_role("button", name="Add client").click()
    # refused, in words, with what was typed kept
    assert "is not an e-mail address" in page.locator("#client-error").inner_text()
    assert page.get_by_label("Name", exact=True).input_value() == "Dana Whitfield"
    page.get_by_label("E-mail (optional)").fill("dana@example.com")
    page.get_by_label("Organisation (optional)").fill("Northwind")
    page.get_by_role("button", name="Add client").click()
    page.wait_for_url(f"{site.url}/clients/*")
    client_id = page.url.rsplit("/", 1)[1]
    assert "Client Dana Whitfield added." in page.locator("#notice").inner_text()

    # two recordings with her (one of them 50 billable minutes, pro bono), one with nobody
    uid = user_id_of(site.server, site.bearer(EMAIL))
    first = transcribed_session(site.server, uid, "Career talk", TALK, client_id=client_id,
                                session_date=date(2026, 10, 6), billable_minutes=50.0, paid=False)
    second = transcribed_session(site.server, uid, "Quarter goals", OTHER, client_id=client_id,
                                 session_date=date(2026, 10, 20), billable_minutes=60.0)
    nobody = transcribed_session(site.server, uid, "Team retro", OTHER,
                                 session_date=date(2026, 10, 21), billable_minutes=30.0)

    # an entry without a recording, from the coaching-log page; a bad one is refused first
    page.goto(site.url + "/coaching-log")
    page.get_by_label("Date").fill("2026-10-13")
    page.get_by_label("Minutes").evaluate("e => { e.type = 'text'; e.value = 'an hour'; }")
    page.locator("#entry-client").select_option(client_id)
    page.get_by_role("button", name="Add to the log").click()
    assert "must be a number" in page.locator("#entry-error").inner_text()
    assert page.locator("#entry-client").input_value() == client_id  # what was chosen is kept
    page.get_by_label("Minutes").fill("45")
    page.get_by_label("Title (optional)").fill("Phone call")
    page.get_by_role("button", name="Add to the log").click()
    assert "Entry of 2026-10-13 added" in page.locator("#notice").inner_text()

    # the client's page: her sessions by date with minutes, and the totals
    page.goto(f"{site.url}/clients/{client_id}")
    rows = cells(page, "#client-sessions tbody tr")
    assert [r[0] for r in rows] == ["2026-10-06", "2026-10-13", "2026-10-20"]
    assert [r[1].split(" (")[0] for r in rows] == ["Career talk", "Phone call", "Quarter goals"]
    assert [r[3] for r in rows] == ["Pro bono", "Paid", "Paid"]
    assert [r[4] for r in rows] == ["50", "45", "60"]
    total = page.locator("#client-total").inner_text()
    assert "3 sessions, 2.58 hours (1.75 paid, 0.83 pro bono)" in total, total
    assert page.locator(f'#client-sessions a[href="/sessions/{first}"]').count() == 1

    # the clients list has her totals
    page.goto(site.url + "/clients")
    row = cells(page, f'#client-list tr[data-client-id="{client_id}"]')[0]
    assert row[0].startswith("Dana Whitfield") and row[2:] == ["3", "2.58", "2026-10-20"], row

    # the library filters by client
    page.goto(site.url + "/")
    page.locator("#client-filter").select_option(client_id)
    page.get_by_role("button", name="Search").click()
    shown = page.eval_on_selector_all(".session-row", "rs => rs.map(r => r.dataset.sessionId)")
    assert sorted(shown) == sorted([first, second])
    assert nobody not in shown

    # the library's search finds the moment, with the word marked, and links to its time
    page.goto(site.url + "/?q=promot*")
    rows_found = page.locator(".session-row")
    assert rows_found.count() == 1
    moment = page.locator(f'.session-row[data-session-id="{first}"] .moment').first
    assert moment.locator("mark").inner_text().lower() == "promotion"
    href = moment.locator("a").get_attribute("href") or ""
    assert href.startswith(f"/sessions/{first}?") and "t=" in href and "seg=" in href
    # a query the language cannot run is a message on the page, not an error page
    page.goto(site.url + "/?q=" + "-nothing")
    assert page.locator("#search-error").is_visible()

    # the coaching log: every session, totals per client and overall, filters and exports
    page.goto(site.url + "/coaching-log")
    dates = [r[0] for r in cells(page, "#log-entries tbody tr")]
    assert dates == ["2026-10-06", "2026-10-13", "2026-10-20", "2026-10-21"]
    totals = {r[0]: r[1:] for r in cells(page, "#log-totals tbody tr")}
    assert totals["Dana Whitfield"] == ["3", "2.58", "1.75", "0.83"]
    assert totals["(no client)"] == ["1", "0.50", "0.50", "0.00"]
    assert cells(page, "#log-overall")[0] == ["All", "4", "3.08", "2.25", "0.83"]
    page.get_by_label("From", exact=True).fill("2026-10-10")
    page.get_by_label("To", exact=True).fill("2026-10-20")
    page.get_by_role("button", name="Show").click()
    assert [r[0] for r in cells(page, "#log-entries tbody tr")] == ["2026-10-13", "2026-10-20"]
    with page.expect_download() as dl:
        page.locator("#export-log-xlsx").click()
    book = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
    log = book["Log"]
    values = [[c.value for c in r] for r in log.iter_rows(min_row=2)]
    got = [(v[0], v[-1]) for v in values if isinstance(v[0], datetime)]
    assert [d.date() for d, _ in got] == [date(2026, 10, 13), date(2026, 10, 20)]
    # a wrong date in the address is said on the page, and everything is shown
    page.goto(site.url + "/coaching-log?from=31/10/2026")
    assert "from date must be a date" in page.locator("#filter-error").inner_text()

    # deleting the entry added by hand (the page asks first)
    page.goto(site.url + "/coaching-log")
    page.once("dialog", lambda d: d.accept())
    page.locator('#log-entries tr[data-source="manual"]').get_by_role("button", name="Delete").click()
    assert "Entry deleted" in page.locator("#notice").inner_text()
    assert page.locator('#log-entries tr[data-source="manual"]').count() == 0

    # editing and deleting the client: her recordings stay, with no client
    page.goto(f"{site.url}/clients/{client_id}")
    page.get_by_label("Organisation").fill("Northwind Traders")
    page.get_by_role("button", name="Save client").click()
    assert "Northwind Traders" in page.locator(".page-head").inner_text()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete client").click()
    page.wait_for_url(f"{site.url}/clients")
    assert "their sessions are kept" in page.locator("#notice").inner_text()
    r = site.server.client.get(f"/api/v1/sessions/{first}", headers=site.bearer(EMAIL))
    assert r.status_code == 200 and r.json()["client_id"] is None


@pytest.mark.parametrize("width", WIDTHS)
def test_practice_pages_are_axe_clean_fit_the_screen_and_are_photographed(
        site: Site, new_page: Callable[..., Any], artifacts: Path, width: int) -> None:
    out = artifacts / "pages"
    out.mkdir(exist_ok=True)
    site.add_user(EMAIL, plan="pro")
    headers = site.bearer(EMAIL)
    client = site.server.client
    r = client.post("/api/v1/clients", headers=headers,
                    json={"name": "Dana Whitfield with a rather long name", "organisation": "Northwind"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    uid = user_id_of(site.server, headers)
    sid = transcribed_session(site.server, uid, "Career talk about the promotion", TALK,
                              client_id=cid, billable_minutes=55.0)
    r = client.post("/api/v1/coaching-log/entries", headers=headers,
                    json={"session_date": "2026-10-13", "minutes": 45, "title": "Phone call",
                          "client_id": cid, "paid": False})
    assert r.status_code == 201, r.text
    page = new_page(width, HEIGHT[width])
    sign_in(page, site.url, EMAIL)
    pages = {"clients": "/clients", "client": f"/clients/{cid}", "coaching-log": "/coaching-log",
             "library-search": "/?q=promotion", "library-client": f"/?client_id={cid}",
             "client-not-found": "/clients/nope"}
    for name, path in pages.items():
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        check_page(page, out, name, width)
    assert page.locator("h1").inner_text() == "Not found"
    # the refusals as they show
    page.goto(site.url + "/coaching-log?to=soon")
    check_page(page, out, "coaching-log-filter-error", width)
    page.goto(site.url + '/?q=%22')
    check_page(page, out, "library-search-error", width)
    assert sid
