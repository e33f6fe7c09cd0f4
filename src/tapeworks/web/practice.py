"""Practice pages: the clients list, a client's page (its sessions with dates, minutes and
totals), and the coaching log (filters, totals, exports, entries added by hand).

Forms post, then redirect (`common.redirect`); what went wrong rides the one-time flash
back to the page the form is on, with what was typed, so nothing is lost.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tapeworks.clients import service as clients
from tapeworks.coaching import service as coaching
from tapeworks.coaching.models import SESSION_TYPES
from tapeworks.errors import NotFound, ValidationFailed
from tapeworks.users.service import Principal
from tapeworks.web.common import (
    ctx,
    page_errors,
    parse_date,
    pop_flash,
    redirect,
    render,
    require_csrf,
    require_user,
    runtime_of,
)

router = APIRouter(include_in_schema=False)
TYPE_WORDS = {"individual": "Individual", "group": "Group", "team": "Team"}


def _flash(request: Request, principal: Principal) -> dict[str, Any]:
    flash = pop_flash(request)
    return flash if flash.get("user_id") == principal.user_id else {}


def parse_minutes(value: str) -> float:
    try:
        minutes = float(value.strip().replace(",", "."))
    except ValueError:
        raise ValidationFailed("the minutes must be a number, such as 50",
                               details={"field": "minutes"}) from None
    if minutes != minutes:  # NaN
        raise ValidationFailed("the minutes must be a number, such as 50",
                               details={"field": "minutes"})
    return minutes


def hours(minutes: float) -> str:
    return f"{minutes / 60.0:.2f}"


# --- clients -----------------------------------------------------------------------------------
@router.get("/clients", response_class=HTMLResponse)
def clients_page(request: Request) -> Response:
    principal = require_user(request)
    flash = _flash(request, principal)
    with runtime_of(request).database.transaction(write=False) as db:
        rows, total = clients.list_clients(db, principal.user_id, limit=1000)
        summary = coaching.client_summaries(db, principal.user_id)
    items = [{"client": c, "summary": summary.get(c.id)} for c in rows]
    return render(request, "clients.html", ctx(
        request, items=items, total=total, error=flash.get("error"), form=flash.get("form", {}),
        notice=flash.get("notice"), hours=hours), principal=principal)


def _client_fields(name: str, email: str, organisation: str, notes: str) -> dict[str, Any]:
    return {"name": name, "email": email, "organisation": organisation, "notes": notes}


@router.post("/clients", response_class=HTMLResponse)
def create_client(
    request: Request,
    name: Annotated[str, Form(max_length=2000)] = "",
    email: Annotated[str, Form(max_length=2000)] = "",
    organisation: Annotated[str, Form(max_length=2000)] = "",
    notes: Annotated[str, Form(max_length=20_000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    data = _client_fields(name, email, organisation, notes)
    try:
        with runtime_of(request).database.transaction() as db:
            client = clients.create_client(db, principal.user_id, **data)
            client_id = client.id
    except ValidationFailed as exc:
        return redirect("/clients#client-new-heading", request, user_id=principal.user_id,
                        error=exc.message, form=data)
    return redirect(f"/clients/{client_id}", request, user_id=principal.user_id,
                    notice=f"Client {data['name'].strip()} added.")


@router.get("/clients/{client_id}", response_class=HTMLResponse)
def client_page(request: Request, client_id: str) -> Response:
    principal = require_user(request)
    flash = _flash(request, principal)
    with runtime_of(request).database.transaction(write=False) as db, page_errors():
        client = clients.get_client(db, principal.user_id, client_id)
        log = coaching.coaching_log(db, principal.user_id, client_id=client_id)
    return render(request, "client.html", ctx(
        request, client=client, log=log, hours=hours, types=TYPE_WORDS,
        error=flash.get("error"), form=flash.get("form"), notice=flash.get("notice")),
        principal=principal)


@router.post("/clients/{client_id}", response_class=HTMLResponse)
def update_client(
    request: Request,
    client_id: str,
    name: Annotated[str, Form(max_length=2000)] = "",
    email: Annotated[str, Form(max_length=2000)] = "",
    organisation: Annotated[str, Form(max_length=2000)] = "",
    notes: Annotated[str, Form(max_length=20_000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    data = _client_fields(name, email, organisation, notes)
    try:
        with runtime_of(request).database.transaction() as db, page_errors():
            clients.update_client(db, principal.user_id, client_id, **data)
    except ValidationFailed as exc:
        return redirect(f"/clients/{client_id}#client-edit-heading", request,
                        user_id=principal.user_id, error=exc.message, form=data)
    return redirect(f"/clients/{client_id}", request, user_id=principal.user_id,
                    notice="Client saved.")


@router.post("/clients/{client_id}/delete", response_class=HTMLResponse)
def delete_client(request: Request, client_id: str,
                  csrf_token: Annotated[str | None, Form()] = None) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    with runtime_of(request).database.transaction() as db, page_errors():
        name = clients.get_client(db, principal.user_id, client_id).name
        clients.delete_client(db, principal.user_id, client_id)
    return redirect("/clients", request, user_id=principal.user_id,
                    notice=f"Client {name} deleted; their sessions are kept, with no client.")


# --- coaching log ------------------------------------------------------------------------------
@router.get("/coaching-log", response_class=HTMLResponse)
def coaching_log_page(
    request: Request,
    date_from: Annotated[str, Query(alias="from", max_length=40)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=40)] = "",
    client_id: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    principal = require_user(request)
    flash = _flash(request, principal)
    error = flash.get("error")
    filter_error = None
    with runtime_of(request).database.transaction(write=False) as db:
        client_rows, _ = clients.list_clients(db, principal.user_id, limit=1000)
        if client_id and client_id not in {c.id for c in client_rows}:
            client_id = ""
        try:
            start, end = parse_date(date_from, "from date"), parse_date(date_to, "to date")
            log = coaching.coaching_log(db, principal.user_id, date_from=start, date_to=end,
                                        client_id=client_id or None)
        except (ValidationFailed, NotFound) as exc:
            filter_error = exc.message
            log = coaching.coaching_log(db, principal.user_id)
            date_from = date_to = client_id = ""
        manual = coaching.list_entries(db, principal.user_id)
    params = {k: v for k, v in (("from", date_from), ("to", date_to), ("client_id", client_id)) if v}
    exports = {fmt: "/api/v1/coaching-log?" + urlencode({**params, "format": fmt})
               for fmt in ("csv", "xlsx", "json")}
    names = {c.id: c.name for c in client_rows}
    return render(request, "coaching_log.html", ctx(
        request, log=log, clients=client_rows, names=names, date_from=date_from,
        date_to=date_to, client_id=client_id, filter_error=filter_error, exports=exports,
        manual=manual, types=TYPE_WORDS, session_types=SESSION_TYPES, hours=hours,
        error=error, form=flash.get("form", {}), notice=flash.get("notice"),
        today=date.today().isoformat()), principal=principal)


@router.post("/coaching-log/entries", response_class=HTMLResponse)
def add_entry(
    request: Request,
    session_date: Annotated[str, Form(max_length=40)] = "",
    minutes: Annotated[str, Form(max_length=40)] = "",
    title: Annotated[str, Form(max_length=2000)] = "",
    session_type: Annotated[str, Form(max_length=40)] = "individual",
    payment: Annotated[str, Form(max_length=20)] = "paid",
    client_id: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    form = {"session_date": session_date, "minutes": minutes, "title": title,
            "session_type": session_type, "payment": payment, "client_id": client_id}
    try:
        when = parse_date(session_date, "date")
        if when is None:
            raise ValidationFailed("give the date of the session", details={"field": "date"})
        with runtime_of(request).database.transaction() as db:
            coaching.add_entry(db, principal.user_id, session_date=when,
                               minutes=parse_minutes(minutes), title=title.strip()[:300],
                               session_type=session_type, paid=payment != "pro_bono",
                               client_id=client_id or None)
    except (ValidationFailed, NotFound) as exc:
        message = "that client no longer exists" if isinstance(exc, NotFound) else exc.message
        return redirect("/coaching-log#entry-heading", request, user_id=principal.user_id,
                        error=message, form=form)
    return redirect("/coaching-log", request, user_id=principal.user_id,
                    notice=f"Entry of {when.isoformat()} added to the log.")


@router.get("/coaching-log/entries/{entry_id}", response_class=HTMLResponse)
def entry_page(request: Request, entry_id: str) -> Response:
    principal = require_user(request)
    flash = _flash(request, principal)
    with runtime_of(request).database.transaction(write=False) as db, page_errors():
        entry = coaching.get_entry(db, principal.user_id, entry_id)
        client_rows, _ = clients.list_clients(db, principal.user_id, limit=1000)
        form = flash.get("form") or {
            "session_date": entry.session_date.isoformat(), "minutes": f"{entry.minutes:g}",
            "title": entry.title, "session_type": entry.session_type,
            "payment": "paid" if entry.paid else "pro_bono", "client_id": entry.client_id or ""}
        return render(request, "log_entry.html", ctx(
            request, entry=entry, clients=client_rows, types=TYPE_WORDS,
            session_types=SESSION_TYPES, form=form, error=flash.get("error")),
            principal=principal)


@router.post("/coaching-log/entries/{entry_id}", response_class=HTMLResponse)
def update_entry(
    request: Request,
    entry_id: str,
    session_date: Annotated[str, Form(max_length=40)] = "",
    minutes: Annotated[str, Form(max_length=40)] = "",
    title: Annotated[str, Form(max_length=2000)] = "",
    session_type: Annotated[str, Form(max_length=40)] = "individual",
    payment: Annotated[str, Form(max_length=20)] = "paid",
    client_id: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    form = {"session_date": session_date, "minutes": minutes, "title": title,
            "session_type": session_type, "payment": payment, "client_id": client_id}
    with runtime_of(request).database.transaction(write=False) as db, page_errors():
        coaching.get_entry(db, principal.user_id, entry_id)  # another user's: a 404 page
    try:
        when = parse_date(session_date, "date")
        if when is None:
            raise ValidationFailed("give the date of the session", details={"field": "date"})
        with runtime_of(request).database.transaction() as db:
            coaching.update_entry(db, principal.user_id, entry_id, session_date=when,
                                  minutes=parse_minutes(minutes), title=title.strip()[:300],
                                  session_type=session_type, paid=payment != "pro_bono",
                                  client_id=client_id or None)
    except (ValidationFailed, NotFound) as exc:
        message = "that client no longer exists" if isinstance(exc, NotFound) else exc.message
        return redirect(f"/coaching-log/entries/{entry_id}", request, user_id=principal.user_id,
                        error=message, form=form)
    return redirect("/coaching-log", request, user_id=principal.user_id,
                    notice=f"Entry of {when.isoformat()} saved.")


@router.post("/coaching-log/entries/{entry_id}/delete", response_class=HTMLResponse)
def delete_entry(request: Request, entry_id: str,
                 csrf_token: Annotated[str | None, Form()] = None) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    with runtime_of(request).database.transaction() as db, page_errors():
        coaching.delete_entry(db, principal.user_id, entry_id)
    return redirect("/coaching-log#manual-heading", request, user_id=principal.user_id,
                    notice="Entry deleted from the log.")
