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

from tapeworks.audio.decode import read_all, write_wav
from tests.e2e.conftest import Site, sign_in
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.pages import axe_violations, describe, shot, sideways_overflow, wait_until
from tests.helpers.paths import JFK
from tests.helpers.practice import transcribed_session, user_id_of
from tests.helpers.spliced import JFK_ISSUE_SPLICES, splice_silences

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

    # the search's From and To are session dates, both included
    def search_between(q: str, start: str, end: str) -> list[str]:
        page.goto(site.url + "/")
        page.get_by_label("Search what was said, titles and notes").fill(q)
        page.get_by_label("From", exact=True).fill(start)
        page.get_by_label("To", exact=True).fill(end)
        page.get_by_role("button", name="Search").click()
        page.wait_for_load_state()
        found: list[str] = page.eval_on_selector_all(
            ".session-row", "rs => rs.map(r => r.dataset.sessionId)")
        return found

    assert search_between("goals", "2026-10-21", "2026-10-21") == [nobody]
    assert search_between("goals", "2026-10-01", "2026-10-20") == [second]
    assert sorted(search_between("goals", "2026-10-20", "2026-10-21")) == sorted([second, nobody])
    assert search_between("promotion", "2026-10-07", "2026-10-31") == []
    assert page.get_by_label("From", exact=True).input_value() == "2026-10-07"  # kept
    assert "2026-10-07" in page.url and "2026-10-31" in page.url
    # a range that ends before it starts is a message, not an error page
    search_between("goals", "2026-10-21", "2026-10-20")
    assert "after the to date" in page.locator("#search-error").inner_text()
    # without words, the dates filter the recordings themselves
    page.goto(site.url + "/?from=2026-10-20&to=2026-10-20")
    shown = page.eval_on_selector_all(".session-row", "rs => rs.map(r => r.dataset.sessionId)")
    assert shown == [second]

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

    # editing the entry added by hand: a wrong value is refused, kept, then fixed
    page.goto(site.url + "/coaching-log")
    page.locator('#log-entries tr[data-source="manual"]').get_by_role("link", name="Edit").click()
    assert page.get_by_label("Minutes").input_value() == "45"
    page.get_by_label("Minutes").evaluate("e => { e.type = 'text'; e.value = 'forty'; }")
    page.get_by_role("button", name="Save entry").click()
    assert "must be a number" in page.locator("#entry-error").inner_text()
    assert page.get_by_label("Title (optional)").input_value() == "Phone call"
    page.get_by_label("Minutes").fill("40")
    page.get_by_label("Payment").select_option(label="Pro bono")
    page.get_by_role("button", name="Save entry").click()
    assert "Entry of 2026-10-13 saved." in page.locator("#notice").inner_text()
    manual = cells(page, '#log-entries tr[data-source="manual"]')[0]
    assert manual[4:6] == ["Pro bono", "40"], manual

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
    eid = r.json()["id"]
    page = new_page(width, HEIGHT[width])
    sign_in(page, site.url, EMAIL)
    pages = {"clients": "/clients", "client": f"/clients/{cid}", "coaching-log": "/coaching-log",
             "library-search": "/?q=promotion", "library-client": f"/?client_id={cid}",
             "log-entry": f"/coaching-log/entries/{eid}", "client-not-found": "/clients/nope"}
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


def uploaded_session(site: Site, headers: dict[str, str], tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """jfk.flac with pauses spliced in (so several segments) through the fake engine (every
    word "speech"), one word of the last segment then edited to "promotion" (the index
    follows the edit): the transcript as the API gives it."""
    client = site.server.client
    wav = tmp_path / "jfk-pauses.wav"
    write_wav(wav, splice_silences(read_all(JFK), JFK_ISSUE_SPLICES).samples)
    sid = upload_ok(client, headers, wav, title="Ask not", speakers="1")
    wait_status(client, headers, sid, timeout=90, fail=True)
    t = client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()
    assert len(t["segments"]) >= 2, t
    seg = t["segments"][-1]  # not the first segment: the notes below sit on its words
    r = client.post(f"/api/v1/sessions/{sid}/transcript/edits", headers=headers, json={"ops": [
        {"op": "edit_word", "segment_id": seg["id"], "word_index": len(seg["words"]) // 2,
         "text": "promotion"}]})
    assert r.status_code == 200, r.text
    return sid, r.json()


def select_words(page: Any, first: int, last: int) -> None:
    """Select words first..last of the transcript as a reader dragging over them would."""
    page.evaluate("""([a, b]) => { const w = document.querySelectorAll('#transcript .w');
        const r = document.createRange(); r.setStart(w[a].firstChild, 0);
        r.setEnd(w[b].firstChild, w[b].firstChild.length);
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); }""", [first, last])


def test_a_search_hit_opens_the_moment_and_notes_sit_on_their_words(
        site: Site, new_page: Callable[..., Any], artifacts: Path, tmp_path: Path) -> None:
    site.add_user(EMAIL, plan="pro")
    headers = site.bearer(EMAIL)
    client = site.server.client
    sid, t = uploaded_session(site, headers, tmp_path)
    seg = next(s for s in t["segments"] if any(w["text"] == "promotion" for w in s["words"]))
    page = new_page()
    sign_in(page, site.url, EMAIL)

    # the library's search finds the edited word; the hit opens the session at that moment
    page.goto(site.url + "/?q=promotion")
    hit = page.locator(f'.session-row[data-session-id="{sid}"] .moment[data-segment-id="{seg["id"]}"]')
    hit.locator("a").click()
    page.wait_for_url(f"{site.url}/sessions/{sid}?*")
    page.locator("#transcript .w").first.wait_for()
    wait_until(page, f"Math.abs(document.getElementById('player').currentTime - {seg['start']}) < 0.05")
    moment = page.locator(f"#seg-{seg['id']}")
    assert "moment" in (moment.get_attribute("class") or "")
    hits = page.locator("#transcript .w.hit")
    assert hits.count() == 1 and hits.inner_text() == "promotion"
    assert page.evaluate("document.activeElement.textContent") == "promotion"  # keyboard is there
    check_page(page, artifacts / "pages", "session-moment", 1280)

    # a highlight with a note on three selected words
    spans = page.locator("#transcript .w")
    n_words = spans.count()
    assert n_words > 8
    select_words(page, 2, 4)
    target = page.locator("#note-target")
    assert target.inner_text().startswith("On ") and "speech speech speech" in target.inner_text()
    assert page.get_by_role("button", name="Note the selected words").is_enabled()
    page.get_by_label("Note", exact=True).fill("Here she talks about her manager")
    page.get_by_label("Highlight", exact=True).select_option(label="Yellow")
    page.get_by_role("button", name="Add note").click()
    page.locator("#note-list .note-item").first.wait_for()
    stored = client.get(f"/api/v1/sessions/{sid}/notes", headers=headers).json()
    assert len(stored) == 1 and stored[0]["colour"] == "#ffe066"
    words = t["segments"][0]["words"] + [w for s in t["segments"][1:] for w in s["words"]]
    assert stored[0]["start"] == words[2]["start"] and stored[0]["end"] == words[4]["end"]
    marked = page.eval_on_selector_all("#transcript .w.hl-yellow", "ws => ws.map(w => +w.dataset.i)")
    assert marked == [2, 3, 4]
    margin = page.locator(".margin-note")
    assert margin.count() == 1 and "Here she talks about her manager" in margin.inner_text()

    # N on a focused word: a note on that word, by keyboard only
    spans.nth(7).focus()
    page.keyboard.press("n")
    assert page.evaluate("document.activeElement.id") == "note-text"
    page.keyboard.type("A pause before the answer")
    page.get_by_role("button", name="Add note").click()
    wait_until(page, "document.querySelectorAll('#note-list .note-item').length === 2")
    assert page.eval_on_selector_all("#transcript .w.noted-plain", "ws => ws.map(w => +w.dataset.i)") == [7]

    # the notes stay on their words through a text edit and a speaker change
    first_seg = t["segments"][0]
    spans.nth(3).dblclick()
    page.locator(".word-input").fill("speaking")
    page.keyboard.press("Enter")
    wait_until(page, "document.querySelectorAll('#transcript .w')[3].textContent === 'speaking'")
    r = client.post(f"/api/v1/sessions/{sid}/transcript/edits", headers=headers, json={"ops": [
        {"op": "add_speaker", "name": "Dana"},
        {"op": "reassign_segment", "segment_id": first_seg["id"], "speaker_id": "spk-2"}]})
    assert r.status_code == 200, r.text
    page.reload()
    page.locator("#transcript .w").first.wait_for()
    assert page.eval_on_selector_all("#transcript .w.hl-yellow", "ws => ws.map(w => +w.dataset.i)") == [2, 3, 4]
    assert "speaking" in page.locator("#note-list").inner_text()  # the quote follows the words
    after = client.get(f"/api/v1/sessions/{sid}/notes", headers=headers).json()
    assert after[0]["start"] == stored[0]["start"] and after[0]["end"] == stored[0]["end"]

    # editing a note's text (PATCH) and deleting one
    page.locator("#note-list .note-item").first.get_by_role("button", name="Edit").click()
    assert page.get_by_label("Note", exact=True).input_value() == "Here she talks about her manager"
    page.get_by_label("Note", exact=True).fill("Her manager, and the promise")
    page.get_by_role("button", name="Save note").click()
    wait_until(page, "document.getElementById('note-list').innerText.includes('the promise')")
    assert client.get(f"/api/v1/sessions/{sid}/notes", headers=headers).json()[0]["text"] == \
        "Her manager, and the promise"
    page.once("dialog", lambda d: d.accept())
    page.locator("#note-list .note-item").nth(1).get_by_role("button", name="Delete").click()
    wait_until(page, "document.querySelectorAll('#note-list .note-item').length === 1")
    assert page.locator("#transcript .w.noted-plain").count() == 0
    # a note is searchable: the library finds it and opens its moment
    page.goto(site.url + "/?q=promise")
    assert page.locator(f'.session-row[data-session-id="{sid}"] .moment[data-kind="note"]').count() == 1

    # the client and coaching-log fields of the recording
    r = client.post("/api/v1/clients", headers=headers, json={"name": "Dana Whitfield"})
    cid = r.json()["id"]
    page.goto(f"{site.url}/sessions/{sid}")
    page.locator("#transcript .w").first.wait_for()
    page.get_by_label("Client", exact=True).select_option(cid)
    page.get_by_label("Date", exact=True).fill("2026-10-06")
    page.get_by_label("Billable minutes").evaluate("e => { e.type = 'text'; e.value = 'abc'; }")
    page.get_by_role("button", name="Save details").click()
    assert "must be a number" in page.locator("#details-error").inner_text()
    page.get_by_label("Billable minutes").fill("50")
    page.get_by_label("Payment").select_option(label="Pro bono")
    page.get_by_label("Type").select_option("group")
    page.get_by_role("button", name="Save details").click()
    wait_until(page, "document.getElementById('toast').textContent === 'Details saved.'")
    s = client.get(f"/api/v1/sessions/{sid}", headers=headers).json()
    assert (s["client_id"], s["session_date"], s["billable_minutes"], s["paid"], s["session_type"]) == \
        (cid, "2026-10-06", 50.0, False, "group")
    check_page(page, artifacts / "pages", "session-notes", 1280)

    # on a phone: the Notes and Details tabs, axe-clean and not wider than the screen
    phone = new_page(390, 844)
    sign_in(phone, site.url, EMAIL)
    phone.goto(f"{site.url}/sessions/{sid}?t={seg['start']}&seg={seg['id']}&q=promotion")
    phone.locator("#transcript .w.hit").wait_for()
    check_page(phone, artifacts / "pages", "session-moment", 390)
    select_words(phone, 5, 6)
    phone.get_by_role("button", name="Note the selected words").click()
    assert phone.evaluate("document.activeElement.id") == "note-text"
    check_page(phone, artifacts / "pages", "session-tab-notes", 390)
    phone.get_by_role("tab", name="Details").click()
    check_page(phone, artifacts / "pages", "session-tab-details", 390)
