"""Property: over random session, job and episode states and ages, the purge never deletes a
source that unfinished work needs, and always deletes the expired finished ones.

Rows (users, sessions, jobs, episodes) are built directly in a migrated SQLite database with a
deterministic `now`; the store is the local store, so deletions are checked on real objects.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from tapeworks.episodes.models import EPISODE_STATUSES, Episode
from tapeworks.plans.models import UsageEntry
from tapeworks.queue.models import JOB_STATUSES, Job
from tapeworks.retention import service as retention
from tapeworks.runtime import Runtime
from tapeworks.sessions.models import SESSION_STATUSES, RecordingSession
from tapeworks.shows.models import PUBLICATION_STATES, Publication
from tapeworks.users.models import User
from tests.conftest import make_settings

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
PLANS = ("free", "pro", "unlimited", "legacy")  # legacy: not in the catalogue
EPISODE_STATES = EPISODE_STATUSES


@dataclass(frozen=True)
class Case:
    status: str
    age: timedelta | None  # completed this long before NOW (None: no completion time)
    plan: str
    job_status: str | None
    episodes: tuple[str, ...]
    already_purged: bool
    publication: str | None = None  # state of a publication of the first episode, if any


cases = st.builds(
    Case,
    status=st.sampled_from(SESSION_STATUSES),
    age=st.one_of(st.none(), st.sampled_from([timedelta(days=d) for d in (30, 180)]),
                  st.builds(lambda d, h: timedelta(days=d, hours=h),
                            st.integers(0, 400), st.integers(0, 23))),
    plan=st.sampled_from(PLANS),
    job_status=st.one_of(st.none(), st.sampled_from(JOB_STATUSES)),
    episodes=st.lists(st.sampled_from(EPISODE_STATES), max_size=3).map(tuple),
    already_purged=st.booleans(),
    publication=st.one_of(st.none(), st.sampled_from(PUBLICATION_STATES)),
)


@pytest.fixture
def rt(sqlite_template: Path, tmp_path: Path) -> Iterator[Runtime]:
    db = tmp_path / "purge.db"
    shutil.copy(sqlite_template, db)
    runtime = Runtime(make_settings(tmp_path, f"sqlite:///{db}"))
    yield runtime
    runtime.close()


def expected_delete(c: Case, rt: Runtime) -> bool:
    """The oracle, written from the rule (DESIGN rule 8), not from the implementation."""
    if c.already_purged or c.status != "completed" or c.age is None:
        return False
    if c.job_status in ("queued", "running"):
        return False
    if any(e not in ("completed", "cancelled") for e in c.episodes):
        return False  # queued/processing need it; failed (retryable) or unknown: kept too
    if c.episodes and c.publication == "published":
        return False  # an episode made from it is in a feed
    if c.plan not in rt.plans:
        return False
    days = rt.plans[c.plan].retention_days_source_audio
    return days is not None and c.age >= timedelta(days=days)


def _reset(rt: Runtime) -> None:
    with rt.database.transaction() as db:
        for model in (Publication, Episode, Job, UsageEntry, RecordingSession, User):
            db.execute(delete(model))
    rt.store.delete_prefix("users/")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(cases, min_size=1, max_size=10))
@example([Case("completed", timedelta(days=400), plan, None, ("completed",), False, state)
          for plan in ("free", "pro") for state in ("published", "unpublished")])
def test_purge_never_deletes_needed_sources_and_always_deletes_expired(
        rt: Runtime, batch: list[Case]) -> None:
    _reset(rt)
    rows: dict[str, tuple[Case, str]] = {}
    with rt.database.transaction() as db:
        users = {}
        for plan in PLANS:
            u = User(email=f"{plan}@example.com", password_hash="x", plan=plan)
            db.add(u)
            db.flush()
            users[plan] = u.id
        for c in batch:
            sid = uuid.uuid4().hex
            key = f"users/{users[c.plan]}/sessions/{sid}/source.wav"
            rt.store.put_bytes(key, b"RIFF....")
            completed_at = NOW - c.age if c.age is not None else None
            db.add(RecordingSession(
                id=sid, user_id=users[c.plan], title="t", status=c.status, source_key=key,
                completed_at=completed_at, created_at=(completed_at or NOW) - timedelta(hours=1),
                source_purged_at=NOW - timedelta(days=1) if c.already_purged else None))
            db.flush()
            if c.job_status is not None:
                db.add(Job(kind="transcribe", user_id=users[c.plan], owner_kind="session", owner_id=sid,
                           status=c.job_status))
            for n, e in enumerate(c.episodes):
                ep = Episode(user_id=users[c.plan], session_id=sid, title="ep", status=e)
                db.add(ep)
                db.flush()
                if n == 0 and c.publication is not None:
                    db.add(Publication(user_id=users[c.plan], episode_id=ep.id, guid=ep.id,
                                       title="ep", state=c.publication))
            rows[sid] = (c, key)
    want = {sid for sid, (c, _) in rows.items() if expected_delete(c, rt)}

    dry = retention.purge(rt, now=NOW, dry_run=True)
    assert {i.session_id for i in dry.deleted} == want
    assert all(rt.store.exists(k) for sid, (c, k) in rows.items() if not c.already_purged)

    report = retention.purge(rt, now=NOW)
    assert {i.session_id for i in report.deleted} == want
    assert not report.errors
    with rt.database.transaction(write=False) as db:
        state = {s.id: s for s in db.scalars(select(RecordingSession))}
    for sid, (c, key) in rows.items():
        s = state[sid]
        if sid in want or c.already_purged:
            assert s.source_purged_at is not None and s.source_key is None, c
            assert not rt.store.exists(key), c
        else:
            assert s.source_purged_at is None and s.source_key == key, c
            assert rt.store.exists(key), c
        assert s.status == c.status  # the row and its state are kept
    skipped = {i.session_id: i.code for i in report.skipped}
    for sid, (c, _) in rows.items():
        if c.already_purged:
            continue
        if c.status in ("uploaded", "queued", "processing"):
            assert skipped[sid] == "work_pending"
        if c.status in ("failed", "cancelled"):
            assert skipped[sid] == c.status

    again = retention.purge(rt, now=NOW)  # idempotent: nothing more to do
    assert again.deleted == [] and again.objects_deleted == 0

