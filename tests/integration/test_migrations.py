"""Rule 1: the migrations are the only schema source, and the models never drift from them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import inspect

from tapeworks.db import migrate
from tapeworks.db.engine import make_engine
from tapeworks.models import metadata
from tests.conftest import DIALECTS, _pg_url, create_pg_database, drop_pg_database


@pytest.fixture(params=DIALECTS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path) -> Callable[[], str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = create_pg_database()
    yield _pg_url(name)
    drop_pg_database(name)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _fts_tables(url: str) -> set[str]:
    return {t for t in _tables(url) if t.startswith(migrate.UNMODELLED_TABLE_PREFIX)}


def test_upgrade_from_empty_reaches_head_with_every_model_table(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    assert migrate.current_revision(empty_db_url) == migrate.head_revision()
    # every table has its model, except the full-text index (the one documented exception)
    assert _tables(empty_db_url) - _fts_tables(empty_db_url) == set(metadata.tables)
    expected = ({"search_fts", "search_fts_data", "search_fts_idx", "search_fts_content",
                 "search_fts_docsize", "search_fts_config"}
                if empty_db_url.startswith("sqlite") else {"search_fts", "search_fts_pairs"})
    assert _fts_tables(empty_db_url) == expected


def test_downgrade_to_base_and_up_again(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    migrate.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == set()
    assert migrate.current_revision(empty_db_url) is None
    migrate.upgrade(empty_db_url)
    assert migrate.is_at_head(empty_db_url)


def test_autogenerate_finds_no_difference_between_models_and_migrated_schema(
    empty_db_url: str,
) -> None:
    migrate.upgrade(empty_db_url)
    assert migrate.schema_diff(empty_db_url, metadata) == []


def test_drift_check_skips_only_the_full_text_tables(empty_db_url: str) -> None:
    """The exception is by name: any other table without a model is still drift."""
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE stray_table (id INTEGER PRIMARY KEY)")
    engine.dispose()
    diff = migrate.schema_diff(empty_db_url, metadata)
    assert any("stray_table" in repr(d) for d in diff), diff
    assert not any("search_fts" in repr(d) for d in diff), diff


def test_drift_is_detected(empty_db_url: str) -> None:
    """The check can fail: a column the models have but the database lacks is reported."""
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("ALTER TABLE users DROP COLUMN name")
        else:
            conn.exec_driver_sql("ALTER TABLE users DROP COLUMN name")
    engine.dispose()
    diff = migrate.schema_diff(empty_db_url, metadata)
    assert any("name" in repr(d) for d in diff), diff


def test_each_migration_steps_up_and_down(empty_db_url: str) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config(empty_db_url))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    for rev in revisions:
        migrate.upgrade(empty_db_url, rev)
        assert migrate.current_revision(empty_db_url) == rev
    for rev in reversed(revisions[:-1]):
        migrate.downgrade(empty_db_url, rev)
        assert migrate.current_revision(empty_db_url) == rev
