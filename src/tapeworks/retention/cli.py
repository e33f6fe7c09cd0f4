"""`tapeworks purge [--dry-run]`: one retention pass, with what was deleted and why the rest
was kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tapeworks.retention.service import purge

out = Console()


def purge_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only; delete nothing")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="List every session, not only the counts")] = False,
) -> None:
    """Delete source audio that retention allows (completed, no pending work, past the plan's
    retention); report deleted and skipped counts with reasons."""
    rt = _open_runtime()
    try:
        report = purge(rt, dry_run=dry_run)
    finally:
        rt.close()
    verb = "would delete" if dry_run else "deleted"
    counts = report.counts
    out.print(f"[bold]{verb}[/bold] {counts['deleted']} source recordings, "
              f"kept {counts['skipped']}" + (" (dry run: nothing changed)" if dry_run else ""))
    table = Table(title="kept, by reason")
    table.add_column("reason")
    table.add_column("sessions", justify="right")
    for code, n in sorted(counts["skipped_by_reason"].items()):
        table.add_row(code, str(n))
    if counts["skipped_by_reason"]:
        out.print(table)
    if not dry_run:
        out.print(f"store objects removed: {counts['objects_deleted']}")
    out.print(f"transcripts past their plan's retention (reported, not deleted): "
              f"{counts['transcripts_expired']}")
    if verbose:
        detail = Table(title="sessions")
        for col in ("session", "user", "action", "reason"):
            detail.add_column(col)
        for item in report.deleted:
            detail.add_row(item.session_id, item.user_id, f"[red]{verb}[/red]", item.reason)
        for item in report.skipped:
            detail.add_row(item.session_id, item.user_id, "kept", item.reason)
        out.print(detail)
    for e in report.errors:
        out.print(f"[red]error:[/red] {e}")
    if report.errors:
        raise typer.Exit(1)


_open_runtime: Callable[[], Any]


def register(app: typer.Typer, open_runtime: Callable[[], Any]) -> None:
    """`open_runtime()` (from the top-level CLI) checks the schema and builds the runtime."""
    global _open_runtime
    _open_runtime = open_runtime
    app.command("purge")(purge_command)
