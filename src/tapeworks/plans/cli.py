"""`tapeworks plans ...`: see the catalogue this server runs with, and change it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tapeworks.config import Settings
from tapeworks.plans.catalogue import (
    LIMIT_NAMES,
    Catalogue,
    coerce_limit,
    load_catalogue,
    write_overrides_file,
)
from tapeworks.plans.catalogue import overrides_path as _overrides_path

plans_app = typer.Typer(no_args_is_help=True, help="Plans and their limits.")
out = Console()
err = Console(stderr=True)


def _fmt(name: str, value: Any) -> str:
    if value is None:
        return "never" if name.startswith("retention_days") else "unlimited"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(value)
    if name.endswith("_bytes") and isinstance(value, int) and value >= 1024**2:
        return f"{value / 1024**3:.2f} GiB" if value >= 1024**3 else f"{value / 1024**2:.0f} MiB"
    if name.endswith("_seconds") and isinstance(value, int) and value >= 60:
        return f"{value} s ({value / 3600:g} h)"
    return str(value)


def catalogue_table(plans: Catalogue) -> Table:
    table = Table(title="plans", show_lines=False)
    table.add_column("limit", style="bold", no_wrap=True)
    for name in plans:
        table.add_column(name)
    for limit in LIMIT_NAMES:
        table.add_row(limit, *(_fmt(limit, getattr(plans[p], limit)) for p in plans))
    return table


@plans_app.command("list")
def plans_list() -> None:
    """Show every plan and its limits (defaults, the overrides file, TAPEWORKS_PLAN_OVERRIDES)."""
    s = Settings()
    plans = load_catalogue(s)
    out.print(catalogue_table(plans))
    out.print(f"default plan for new users: {s.default_plan}; operator overrides file: "
              f"{_overrides_path(s.data_dir)}")


@plans_app.command("set")
def plans_set(
    plan: Annotated[str, typer.Argument(help="plan name (a new name defines a new plan)")],
    values: Annotated[list[str], typer.Argument(help="limit=value, e.g. monthly_audio_seconds=7200")],
) -> None:
    """Override limits of PLAN in the operator's overrides file (validated before writing;
    running servers pick it up when restarted)."""
    s = Settings()
    parsed: dict[str, Any] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        if not sep:
            err.print(f"[red]error:[/red] {item!r} is not limit=value")
            raise typer.Exit(2)
        parsed[name.strip()] = coerce_limit(name.strip(), raw)
    plans = write_overrides_file(s, plan, parsed)
    out.print(catalogue_table(plans))
    out.print(f"saved to {_overrides_path(s.data_dir)}; restart `tapeworks serve` and workers "
              "to apply")


def register(app: typer.Typer, open_runtime: Callable[[], Any] | None = None) -> None:
    app.add_typer(plans_app, name="plans")
