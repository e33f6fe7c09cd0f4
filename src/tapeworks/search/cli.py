"""`tapeworks search reindex`: rebuild the full-text index from the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

search_app = typer.Typer(help="Full-text search.", no_args_is_help=True)
_open_runtime: Callable[[], Any] | None = None


@search_app.command("reindex")
def reindex_command(
    user: Annotated[str | None, typer.Option(help="only this user's sessions (e-mail)")] = None,
) -> None:
    """Rebuild the search index: transcripts from the object store, titles and notes from
    the database (one session per short transaction; safe to run while serving)."""
    from tapeworks.search import service
    from tapeworks.users import service as users

    assert _open_runtime is not None
    rt = _open_runtime()
    try:
        user_id = None
        if user:
            with rt.database.transaction(write=False) as db:
                user_id = users.get_user_by_email(db, user).id
        report = service.reindex(rt, user_id=user_id)
    finally:
        rt.close()
    typer.echo(f"reindexed {report.sessions} sessions: {report.entries} entries "
               f"({report.without_transcript} without a transcript yet)")


def register(app: typer.Typer, open_runtime: Callable[[], Any]) -> None:
    """`open_runtime()` (from the top-level CLI) checks the schema and builds the runtime."""
    global _open_runtime
    _open_runtime = open_runtime
    app.add_typer(search_app, name="search")
