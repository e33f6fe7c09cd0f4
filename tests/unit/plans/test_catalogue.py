"""The one plan catalogue: defaults, operator overrides, validation at start-up, fail closed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tapeworks.errors import ConfigError, QuotaExceeded
from tapeworks.plans import enforcement as enf
from tapeworks.plans.catalogue import (
    DEFAULT_PLANS,
    build_catalogue,
    coerce_limit,
    load_catalogue,
    write_overrides_file,
)
from tapeworks.runtime import Runtime
from tapeworks.users import service as users
from tests.conftest import make_settings


def test_defaults_are_valid_and_have_units_in_their_names() -> None:
    plans = build_catalogue("")
    assert {"free", "pro", "unlimited"} <= set(plans)
    for plan in plans.values():
        for name in plan.limits():
            # every limit says its unit; a queue priority is a rank, which has none
            assert name.endswith(("_seconds", "_bytes", "_jobs", "_formats", "_enabled",
                                  "_priority")) \
                or name.startswith("retention_days_"), name
    assert plans["unlimited"].monthly_audio_seconds is None


def test_env_overrides_merge_over_defaults_and_can_define_plans() -> None:
    plans = build_catalogue(json.dumps({"free": {"monthly_audio_seconds": 60},
                                        "team": {**DEFAULT_PLANS["pro"], "max_concurrent_jobs": 5}}))
    assert plans["free"].monthly_audio_seconds == 60
    assert plans["free"].max_file_bytes == DEFAULT_PLANS["free"]["max_file_bytes"]
    assert plans["team"].max_concurrent_jobs == 5


@pytest.mark.parametrize("overrides, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"free": {"monthly_audio_seconds": -5}}', "plan 'free'"),
    ('{"free": {"max_file_bytes": 0}}', "max_file_bytes"),
    ('{"free": {"monthly_minutes": 5}}', "monthly_minutes"),  # a limit without its unit
    ('{"pro": {"export_formats": ["odt"]}}', "unknown export formats"),
    ('{"newplan": {"max_file_bytes": 10}}', "plan 'newplan'"),  # incomplete new plan
])
def test_bad_overrides_are_refused_with_the_reason(overrides: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        build_catalogue(overrides)
    assert words in exc.value.message


def test_default_plan_must_exist() -> None:
    with pytest.raises(ConfigError, match="TAPEWORKS_DEFAULT_PLAN"):
        build_catalogue("", default_plan="gold")


def test_unknown_plan_fails_closed() -> None:
    with pytest.raises(QuotaExceeded) as exc:
        build_catalogue("").get_plan("legacy")
    assert exc.value.details["limit_type"] == "plan_missing"
    assert "legacy" in exc.value.message


def test_runtime_validates_at_start_up_and_each_runtime_has_its_own(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ConfigError, match="plan 'free'"):
        Runtime(make_settings(tmp_path / "a", url, plan_overrides='{"free": {"max_file_bytes": -1}}'))
    small = Runtime(make_settings(tmp_path / "b", url, plan_overrides='{"free": {"monthly_audio_seconds": 10}}'))
    big = Runtime(make_settings(tmp_path / "c", url, plan_overrides='{"free": {"monthly_audio_seconds": 99}}'))
    try:
        assert small.plans["free"].monthly_audio_seconds == 10
        assert big.plans["free"].monthly_audio_seconds == 99
    finally:
        small.close()
        big.close()


def test_operator_file_is_validated_before_it_is_written(tmp_path: Path) -> None:
    s = make_settings(tmp_path, "sqlite://")
    write_overrides_file(s, "free", {"monthly_audio_seconds": coerce_limit("monthly_audio_seconds", "600")})
    assert load_catalogue(s)["free"].monthly_audio_seconds == 600
    before = (s.data_dir / "plan_overrides.json").read_text()
    with pytest.raises(ConfigError):
        write_overrides_file(s, "free", {"max_file_bytes": 0})
    assert (s.data_dir / "plan_overrides.json").read_text() == before
    # the environment wins over the file
    s2 = make_settings(tmp_path, "sqlite://", plan_overrides='{"free": {"monthly_audio_seconds": 5}}')
    assert load_catalogue(s2)["free"].monthly_audio_seconds == 5


def test_coerce_limit() -> None:
    assert coerce_limit("retention_days_transcripts", "never") is None
    assert coerce_limit("export_formats", "json,txt") == ["json", "txt"]
    assert coerce_limit("episodes_enabled", "true") is True
    with pytest.raises(ConfigError, match="unknown limit"):
        coerce_limit("minutes", "5")


# --- decisions ------------------------------------------------------------------------------
NOW = datetime(2026, 12, 15, tzinfo=UTC)


def snap(used: float = 0.0, pending: float = 0.0, storage: int = 0) -> enf.UsageSnapshot:
    return enf.UsageSnapshot(used, pending, storage, 0, enf.period_start(NOW), enf.period_reset(NOW))


def test_billing_period_wraps_the_year() -> None:
    assert enf.period_start(NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert enf.period_reset(NOW) == datetime(2027, 1, 1, tzinfo=UTC)


def test_monthly_counts_pending_work_and_refuses_the_last_second_over() -> None:
    plan = build_catalogue('{"free": {"monthly_audio_seconds": 100}}')["free"]
    assert enf.decide_monthly_seconds(plan, snap(60, 30), 10).allowed  # exactly fits
    d = enf.decide_monthly_seconds(plan, snap(60, 30), 10.5)
    assert not d.allowed and d.limit is not None
    assert d.limit.type == "monthly_audio_seconds" and d.limit.current == 90 and d.limit.limit == 100
    assert d.limit.reset_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert not enf.decide_monthly_seconds(plan, snap(100), 0).allowed  # nothing left at all
    with pytest.raises(QuotaExceeded):
        d.enforce()


def test_each_action_meets_its_limit() -> None:
    plans = build_catalogue("")
    free, pro = plans["free"], plans["pro"]
    assert not enf.decide_action(free, snap(), "upload_file",
                                 {"bytes": free.max_file_bytes + 1}).allowed
    assert enf.decide_action(free, snap(), "upload_file", {"bytes": 10, "seconds": 10}).allowed
    assert not enf.decide_action(free, snap(), "transcribe", {"seconds": 4000}).allowed
    assert not enf.decide_action(free, snap(storage=free.max_storage_bytes or 0), "create_session",
                                 {"bytes": 1}).allowed
    assert not enf.decide_action(free, snap(), "export_transcript", {"format": "docx"}).allowed
    assert enf.decide_action(pro, snap(), "export_transcript", {"format": "docx"}).allowed
    assert not enf.decide_action(free, snap(), "create_episode", {}).allowed
    assert enf.decide_action(pro, snap(), "create_episode", {}).allowed
    unlimited = plans["unlimited"]
    assert enf.decide_action(unlimited, snap(used=10**9), "transcribe", {"seconds": 10**6}).allowed


def test_checks_use_the_catalogue_of_the_runtime_they_are_given(
        tmp_path: Path, fresh_db_url: Callable[[str], str]) -> None:
    """No process-global runtime: two runtimes in one process keep their own plans."""
    runtimes = [Runtime(make_settings(tmp_path / str(n), fresh_db_url("sqlite"),
                                      plan_overrides=f'{{"free": {{"monthly_audio_seconds": {n}}}}}'))
                for n in (1, 2)]
    try:
        for n, rt in zip((1, 2), runtimes, strict=True):
            with rt.database.transaction() as db:
                uid = users.create_user(db, email=f"u{n}@example.com", password="password123").id
            with rt.database.transaction(write=False) as db:
                assert enf.plan_for(db, rt, uid).monthly_audio_seconds == n
    finally:
        for rt in runtimes:
            rt.close()
