"""Known voices and the vocabulary in the pages, in a real headless Chromium at 1280 px
and 390 px: "This is me" on a session's speaker, the next recording naming that speaker
(with the other speaker's role inferred), the account page listing the voice, saving a
vocabulary and deleting the voice; axe-core, no sideways scrolling, screenshots."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Site, sign_in
from tests.helpers import speakers as sp
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.pages import axe_violations, describe, shot, sideways_overflow
from tests.helpers.speakers import Recording

pytestmark = pytest.mark.e2e

WIDTHS = (1280, 390)
HEIGHT = {1280: 900, 390: 844}
COACH, CLIENT_A, CLIENT_B = "en-us+Andy", "en-029+f4", "en-gb+m7"


@pytest.fixture(scope="module")
def talks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Recording]]:
    folder = tmp_path_factory.mktemp("voice-pages")

    def talk(name: str, lines: list[tuple[str, int]]) -> tuple[Path, Recording]:
        rec = sp.join(name, [(v, sp.speak(sp.SENTENCES[i], v)) for v, i in lines])
        return rec.write(folder / f"{name}.wav"), rec

    return {
        "first": talk("first", [(COACH, 0), (CLIENT_A, 1), (COACH, 2), (CLIENT_A, 3), (COACH, 4)]),
        "second": talk("second", [(CLIENT_B, 6), (COACH, 7), (CLIENT_B, 8), (COACH, 9), (CLIENT_B, 10)]),
    }


def check_page(page: Any, artifacts: Path, name: str, width: int) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {name} at {width} px:\n{describe(violations)}"
    overflow = sideways_overflow(page)
    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
    shot(page, artifacts, f"{name}-{width}")


def coach_of(site: Site, headers: dict[str, str], sid: str, rec: Recording) -> str:
    t = site.server.client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()
    votes: Counter[str] = Counter()
    for seg in t["segments"]:
        for w in seg["words"]:
            mid = (w["start"] + w["end"]) / 2
            if any(turn.speaker == COACH and turn.start <= mid <= turn.end for turn in rec.turns):
                votes[w["speaker"]] += 1
    return votes.most_common(1)[0][0]


def open_speakers(page: Any, url: str, width: int) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if width < 900:
        page.get_by_role("tab", name="Speakers").click()
    page.locator("#voice-controls .voice-row").first.wait_for()


@pytest.mark.parametrize("width", WIDTHS)
def test_this_is_me_names_the_next_recording_and_the_account_manages_voices(
        site: Site, new_page: Callable[..., Any], artifacts: Path, talks, width: int) -> None:
    out = artifacts / "voices"
    out.mkdir(exist_ok=True)
    site.add_user("alice@example.com", plan="pro")
    headers = site.bearer("alice@example.com")
    client = site.server.client
    first_path, first = talks["first"]
    first_id = upload_ok(client, headers, first_path, title="First session", speakers="2")
    earlier_path, earlier = talks["second"]  # recorded before the voice is known
    earlier_id = upload_ok(client, headers, earlier_path, title="Earlier session")
    wait_status(client, headers, first_id, timeout=120, fail=True)
    wait_status(client, headers, earlier_id, timeout=120, fail=True)
    coach = coach_of(site, headers, first_id, first)

    page = new_page(width, HEIGHT[width])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, site.url, "alice@example.com")
    try:
        open_speakers(page, f"{site.url}/sessions/{first_id}", width)
    finally:
        assert not errors, errors
    check_page(page, out, "session-voices-before", width)

    # the coach's role first, then "This is me" on the coach
    index = [s["id"] for s in client.get(f"/api/v1/sessions/{first_id}/transcript",
                                          headers=headers).json()["speakers"]].index(coach)
    page.locator(f"#sp-role-{index}").select_option("coach")
    page.get_by_role("button", name="Save speakers").click()
    page.get_by_text("Speakers saved.").wait_for()
    row = page.locator(f"#voice-controls .voice-row[data-speaker='{coach}']")
    row.get_by_role("button", name="This is me").click()
    row.get_by_text("Recognised as alice").wait_for()
    page.locator("#voice-controls .voice-row", has_text="inferred").wait_for()
    check_page(page, out, "session-voices-enrolled", width)
    # offered for the earlier recordings: the earlier session gets the name too
    page.get_by_role("button", name="Name alice in my earlier recordings too").click()
    page.get_by_text("alice is now named in 1 earlier recording.").wait_for()
    t = client.get(f"/api/v1/sessions/{earlier_id}/transcript", headers=headers).json()
    named = [s for s in t["speakers"] if s["name"] == "alice"]
    assert len(named) == 1 and named[0]["id"] == coach_of(site, headers, earlier_id, earlier)

    # a second recording: the coach is named without asking, the other is the client
    second_path, second = talks["second"]
    second_id = upload_ok(client, headers, second_path, title="Second session")
    wait_status(client, headers, second_id, timeout=120, fail=True)
    coach2 = coach_of(site, headers, second_id, second)
    open_speakers(page, f"{site.url}/sessions/{second_id}", width)
    known = page.locator(f"#voice-controls .voice-row[data-speaker='{coach2}']")
    known.get_by_text("Recognised as alice (match").wait_for()
    other = page.locator("#voice-controls .voice-row").filter(has_not=page.locator(
        f"[data-speaker='{coach2}']")).filter(has_text="Role client inferred")
    assert other.count() == 1
    if width >= 900:
        assert page.locator("#transcript .seg-speaker", has_text="alice (coach)").count() >= 1
        assert page.locator("#transcript .seg-speaker", has_text="(client)").count() >= 1
    check_page(page, out, "session-voices-recognised", width)

    # the account page lists the voice; a vocabulary is saved; the voice deleted
    page.goto(site.url + "/account")
    row = page.locator("#voice-list li", has_text="alice (you)")
    row.get_by_text("Coach · from 1 recording").wait_for()
    page.get_by_label("Names and words your recordings use").fill("Siobhan Quaid, Ljubljana")
    page.get_by_role("button", name="Save vocabulary").click()
    page.get_by_text("Vocabulary saved: 2 terms").wait_for()
    assert page.get_by_label("Names and words your recordings use").input_value() == \
        "Siobhan Quaid, Ljubljana"
    assert client.get("/api/v1/auth/me/vocabulary", headers=headers).json() == {
        "terms": ["Siobhan Quaid", "Ljubljana"]}
    check_page(page, out, "account-voices", width)
    page.get_by_label("Names and words your recordings use").fill(
        ", ".join(f"t{i}" for i in range(101)))
    page.get_by_role("button", name="Save vocabulary").click()
    page.get_by_text("at most 100 are allowed").wait_for()
    page.locator("#voice-list").get_by_role("button", name="Delete the voice alice").click()
    page.get_by_text("and everything kept of it were deleted").wait_for()
    page.locator("#no-voices").wait_for()
    assert client.get("/api/v1/voices", headers=headers).json() == []
