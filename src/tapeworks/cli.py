"""The `tapeworks` command. Each command only translates arguments into a service call."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from tapeworks.config import Settings
from tapeworks.errors import TapeworksError

app = typer.Typer(no_args_is_help=True, help="tapeworks: transcripts and publish-ready audio.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema (Alembic migrations).")
users_app = typer.Typer(no_args_is_help=True, help="User accounts.")
tokens_app = typer.Typer(no_args_is_help=True, help="Personal API tokens.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")

console = Console(stderr=True, soft_wrap=True)  # messages stay whole in logs and pipes


def _settings() -> Settings:
    return Settings()


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


# --- db ------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the newest schema (or to REVISION)."""
    from tapeworks.db import migrate

    s = _settings()
    s.ensure_dirs()
    migrate.upgrade(s.effective_database_url, revision)
    console.print(f"database at {migrate.current_revision(s.effective_database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ('base' empties it)."""
    from tapeworks.db import migrate

    s = _settings()
    migrate.downgrade(s.effective_database_url, revision)
    console.print(f"database at {migrate.current_revision(s.effective_database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the code's head."""
    from tapeworks.db import migrate

    s = _settings()
    typer.echo(f"current: {migrate.current_revision(s.effective_database_url)}")
    typer.echo(f"head:    {migrate.head_revision()}")


@db_app.command("check")
def db_check() -> None:
    """Exit non-zero when the database is behind the code or differs from the models."""
    from tapeworks.db import migrate

    s = _settings()
    url = s.effective_database_url
    current, head = migrate.current_revision(url), migrate.head_revision()
    if current != head:
        _fail(f"database at {current}, code expects {head}: run `tapeworks db upgrade`")
    diff = migrate.schema_diff(url)
    if diff:
        _fail(f"schema differs from the models: {diff}")
    typer.echo(f"ok: at head {head}, no drift")


def ensure_schema(s: Settings) -> None:
    """The embedded default migrates itself; any other database must already be at head."""
    from tapeworks.db import migrate

    url = s.effective_database_url
    if s.is_embedded_database:
        migrate.upgrade(url)
        return
    current, head = migrate.current_revision(url), migrate.head_revision()
    if current != head:
        _fail(f"the database schema is at {current or 'empty'} but this code needs {head}. "
              f"Run `tapeworks db upgrade` with the same TAPEWORKS_DATABASE_URL, then start again.", 2)


# --- serve / worker --------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    workers: Annotated[int | None, typer.Option(help="In-process job consumer threads")] = None,
) -> None:
    """Run the API, the pages and (on the embedded default) the job consumers."""
    import uvicorn

    from tapeworks.app import create_app
    from tapeworks.runtime import Runtime

    overrides: dict[str, object] = {}
    if workers is not None:
        overrides["workers"] = workers
    s = Settings(**overrides)  # type: ignore[arg-type]
    s.ensure_dirs()
    ensure_schema(s)
    rt = Runtime(s)
    _first_admin(rt)
    application = create_app(s, rt)
    console.print(f"tapeworks serving on http://{host or s.host}:{port or s.port} "
                  f"(data in {s.data_dir})")
    uvicorn.run(application, host=host or s.host, port=port or s.port, log_level="warning",
                proxy_headers=True)


def _first_admin(rt: object) -> None:
    from tapeworks.runtime import Runtime
    from tapeworks.users import service

    assert isinstance(rt, Runtime)
    s = rt.settings
    with rt.database.transaction() as db:
        if service.count_users(db) > 0:
            return
        if s.admin_email and s.admin_password:
            service.create_user(db, email=s.admin_email, password=s.admin_password,
                                role="admin", plan="unlimited")
            console.print(f"created the first admin {s.admin_email}")
            return
    console.print(
        "[yellow]No users yet.[/yellow] Create the first admin with\n"
        "  tapeworks users create --email you@example.com --password '...' --admin\n"
        "or set TAPEWORKS_ADMIN_EMAIL and TAPEWORKS_ADMIN_PASSWORD, or open /setup in a browser."
    )


@app.command()
def worker(
    threads: Annotated[int, typer.Option(help="Consumer threads in this process")] = 2,
) -> None:
    """Run job consumers (with TAPEWORKS_QUEUE_URL=redis://... on any number of machines)."""
    from tapeworks.logging import configure_logging
    from tapeworks.queue.worker import run_worker

    s = _settings()
    configure_logging(s.log_level, s.log_json)
    ensure_schema(s)
    run_worker(s, threads=threads)


# --- users / tokens --------------------------------------------------------------------
@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login email")],
    password: Annotated[str, typer.Option(help="At least 8 characters", prompt=True,
                                          hide_input=True)],
    name: str = "",
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator")] = False,
    plan: Annotated[str | None, typer.Option(help="Plan name (default: TAPEWORKS_DEFAULT_PLAN)")] = None,
) -> None:
    """Create a user."""
    from tapeworks.runtime import Runtime
    from tapeworks.users import service

    s = _settings()
    ensure_schema(s)
    rt = Runtime(s)
    plan_name = plan or ("unlimited" if admin else s.default_plan)
    _validate_plan(rt, plan_name)
    with rt.database.transaction() as db:
        user = service.create_user(db, email=email, password=password, name=name,
                                   role="admin" if admin else "user", plan=plan_name)
        typer.echo(f"created {user.role} {user.email} (id {user.id}, plan {user.plan})")


def _validate_plan(rt: object, name: str) -> None:
    """The plan must be in this runtime's catalogue (defaults plus operator overrides)."""
    from tapeworks.runtime import Runtime

    assert isinstance(rt, Runtime)
    if name not in rt.plans:
        _fail(f"plan {name!r} is not in the plan catalogue; plans are: {', '.join(rt.plans)} "
              "(see `tapeworks plans list`)")


@users_app.command("set-plan")
def users_set_plan(email: Annotated[str, typer.Option()], plan: Annotated[str, typer.Option()]) -> None:
    """Move a user to another plan (administrators only: this is the operator's CLI)."""
    from tapeworks.runtime import Runtime
    from tapeworks.users import service

    s = _settings()
    ensure_schema(s)
    rt = Runtime(s)
    _validate_plan(rt, plan)
    with rt.database.transaction() as db:
        user = service.get_user_by_email(db, email)
        user.plan = plan
    typer.echo(f"{email} is now on plan {plan}")


@users_app.command("list")
def users_list() -> None:
    """List users."""
    from sqlalchemy import select

    from tapeworks.runtime import Runtime
    from tapeworks.users.models import User

    s = _settings()
    ensure_schema(s)
    rt = Runtime(s)
    with rt.database.transaction(write=False) as db:
        for u in db.scalars(select(User).order_by(User.created_at)):
            typer.echo(f"{u.id}  {u.email:<40} {u.role:<6} {u.plan}")


@users_app.command("delete")
def users_delete(email: Annotated[str, typer.Option()]) -> None:
    """Delete a user and their tokens."""
    from tapeworks.runtime import Runtime
    from tapeworks.users import service

    s = _settings()
    ensure_schema(s)
    rt = Runtime(s)
    with rt.database.transaction() as db:
        service.delete_user(db, service.get_user_by_email(db, email).id)
    typer.echo(f"deleted {email}")


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Option()],
    name: str = "cli",
    days: Annotated[int | None, typer.Option(help="Expire after this many days")] = None,
) -> None:
    """Create a long-lived personal API token; it is printed once."""
    from tapeworks.runtime import Runtime
    from tapeworks.users import service

    s = _settings()
    ensure_schema(s)
    rt = Runtime(s)
    with rt.database.transaction() as db:
        user = service.get_user_by_email(db, email)
        _, plain = service.issue_token(db, user, kind="personal", name=name,
                                       ttl_seconds=days * 86400 if days else None)
    typer.echo(plain)


def _register_domain_commands() -> None:
    """Commands contributed by the domain packages (transcribe, produce, purge...)."""
    import importlib

    for module in ("tapeworks.speech.cli", "tapeworks.production.cli", "tapeworks.plans.cli",
                   "tapeworks.retention.cli"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(app)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Bound glibc's per-thread malloc arenas. Consumer, heartbeat and request threads
    otherwise each grow an arena, and a long job leaves them fragmented: with 2 arenas a
    3-hour job peaks within ~95 MiB of a 3-minute one (bench/bench_pipeline.py)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return


def main() -> None:
    limit_malloc_arenas()
    _register_domain_commands()
    try:
        app()
    except TapeworksError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        sys.exit(1)


if __name__ == "__main__":
    main()
