"""The practice pages' forms on both dialects, signed in with the page cookie: another
user's clients, entries and sessions are 404 pages and stay as they are, forms without
the CSRF token change nothing, and a client id of someone else's chosen in a form or a
filter finds nothing of theirs."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.helpers.practice import transcribed_session, user_id_of

PASSWORD = "password123"
SPOKEN = [("S1", "Tell me about the promotion."), ("S2", "It was promised in March.")]


def page_client(api: Api, email: str) -> TestClient:
    """A browser-like client of the same app, signed in through the login form."""
    client = TestClient(api.client.app, raise_server_exceptions=False)
    form = client.get("/login")
    r = client.post("/login", data={"email": email, "password": PASSWORD, "next": "/",
                                    "csrf_token": csrf_of(form.text)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_other_users_practice_is_out_of_reach_of_the_pages(api: Api) -> None:
    alice = api.create_user("alice@example.com", PASSWORD, plan="pro")
    api.create_user("bob@example.com", PASSWORD, plan="pro")
    ana = api.client.post("/api/v1/clients", headers=alice, json={"name": "Ana Secret"}).json()
    sid = transcribed_session(api, user_id_of(api, alice), "Ana's promotion", SPOKEN,
                              client_id=ana["id"], session_date=date(2026, 10, 6),
                              billable_minutes=50.0)
    entry = api.client.post("/api/v1/coaching-log/entries", headers=alice, json={
        "session_date": "2026-10-13", "minutes": 45, "client_id": ana["id"]}).json()
    a = page_client(api, "alice@example.com")
    b = page_client(api, "bob@example.com")

    # alice sees her client, the session's minutes and the totals
    page = a.get(f"/clients/{ana['id']}")
    assert page.status_code == 200 and "Ana Secret" in page.text and "Ana&#39;s promotion" in page.text
    assert "2 sessions, 1.58 hours" in page.text

    # bob: a 404 page for each, and nothing of alice's changes
    token = csrf_of(b.get("/clients").text)
    assert "Ana Secret" not in b.get("/clients").text
    for method, path, data in (
            ("get", f"/clients/{ana['id']}", None),
            ("post", f"/clients/{ana['id']}", {"name": "Taken", "csrf_token": token}),
            ("post", f"/clients/{ana['id']}/delete", {"csrf_token": token}),
            ("post", f"/coaching-log/entries/{entry['id']}/delete", {"csrf_token": token}),
            ("get", f"/coaching-log/entries/{entry['id']}", None),
            ("post", f"/coaching-log/entries/{entry['id']}", {"session_date": "2026-01-01",
                                                             "minutes": "1", "csrf_token": token}),
            ("get", f"/sessions/{sid}", None)):
        r = getattr(b, method)(path, data=data, headers={"Accept": "text/html"},
                               follow_redirects=False) if data else \
            b.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 404, (path, r.status_code)
        assert "Ana" not in r.text and "promotion" not in r.text
    assert api.client.get(f"/api/v1/clients/{ana['id']}", headers=alice).json()["name"] == "Ana Secret"
    kept = api.client.get(f"/api/v1/coaching-log/entries/{entry['id']}", headers=alice).json()
    assert (kept["session_date"], kept["minutes"]) == ("2026-10-13", 45.0)

    # alice's client id in bob's forms and filters finds nothing of hers
    r = b.post("/coaching-log/entries", data={"session_date": "2026-10-20", "minutes": "30",
                                              "client_id": ana["id"], "csrf_token": token})
    assert r.status_code == 200 and "that client no longer exists" in r.text.lower()
    bob_headers = api.login("bob@example.com", PASSWORD)
    assert api.client.get("/api/v1/coaching-log", headers=bob_headers).json()["overall"]["sessions"] == 0
    for path in (f"/?client_id={ana['id']}", f"/?q=promotion&client_id={ana['id']}",
                 f"/coaching-log?client_id={ana['id']}", "/?q=promotion"):
        r = b.get(path)
        assert r.status_code == 200 and sid not in r.text and "Ana" not in r.text, path

    # a form without the CSRF token changes nothing
    r = a.post("/clients", data={"name": "No token"}, follow_redirects=False)
    assert r.status_code == 403
    r = a.post(f"/clients/{ana['id']}/delete", data={}, follow_redirects=False)
    assert r.status_code == 403
    names = [c["name"] for c in api.client.get("/api/v1/clients", headers=alice).json()["items"]]
    assert names == ["Ana Secret"]


def test_the_library_searches_and_lists_between_two_session_dates(api: Api) -> None:
    alice = api.create_user("alice@example.com", PASSWORD, plan="pro")
    uid = user_id_of(api, alice)
    early = transcribed_session(api, uid, "Early", SPOKEN, session_date=date(2026, 10, 6))
    late = transcribed_session(api, uid, "Late", SPOKEN, session_date=date(2026, 10, 20))
    a = page_client(api, "alice@example.com")

    def shown(query: str) -> set[str]:
        r = a.get("/?" + query)
        assert r.status_code == 200, r.text
        return set(re.findall(r'class="session-row" data-session-id="([^"]+)"', r.text)) & {
            early, late}

    assert shown("q=promotion") == {early, late}
    assert shown("q=promotion&from=2026-10-06&to=2026-10-06") == {early}  # both ends included
    assert shown("q=promotion&from=2026-10-07") == {late}
    assert shown("q=promotion&to=2026-10-19") == {early}
    assert shown("from=2026-10-20") == {late}  # the list without words, too
    assert shown("from=2026-10-07&to=2026-10-19") == set()
    # bad dates are a message on the page, in words, and list nothing
    for query, message in (("q=promotion&from=2026-10-21&to=2026-10-20", "after the to date"),
                           ("q=promotion&from=yesterday", "must be a date"),
                           ("to=2026-13-01", "must be a date")):
        r = a.get("/?" + query)
        assert r.status_code == 200 and message in r.text, query
        assert shown(query) == set()
    # the form keeps the dates
    assert 'value="2026-10-07"' in a.get("/?q=promotion&from=2026-10-07").text
