"""The coaching log as a document: entries, per-client and overall totals, CSV and XLSX.

Coaches send this log with their credential applications: date, client, minutes, and
whether the session was paid or pro bono, with totals in hours. The writers take plain
rows (`LogEntry`) so they know nothing of the database.

* CSV follows RFC 4180: a header line, CRLF line ends, fields quoted when they hold a
  comma, quote or line break, quotes doubled, UTF-8. One table: entry rows first, then
  one ``client total`` row per client and a final ``total`` row, all with the same columns.
  A text field that a spreadsheet would run as a formula (starting with ``= + - @``, tab
  or carriage return) gets a leading apostrophe, the usual guard against CSV injection.
* XLSX (openpyxl): sheet "Log" with real date cells and number cells, sheet "Totals"
  with hours as numbers and the period as date cells. Text cells are always text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tapeworks.transcripts.xlsx import header, number_cell, text_cell

NO_CLIENT = "(no client)"
CSV_COLUMNS = ("row", "date", "client", "title", "session_type", "payment", "minutes", "hours",
               "paid_hours", "pro_bono_hours")
DATE_FORMAT = "yyyy-mm-dd"
HOURS_FORMAT = "0.00"
MINUTES_FORMAT = "0.##"


@dataclass(frozen=True)
class LogEntry:
    session_date: date
    client: str | None  # the client's name, None when the session has no client
    title: str
    session_type: str
    paid: bool
    minutes: float  # billable minutes
    source: str = "session"  # "session" (a recording) or "manual"
    ref: str | None = None  # the session's or the manual entry's id (pages link to it)


@dataclass(frozen=True)
class Total:
    client: str | None  # None: the overall total
    sessions: int
    minutes: float
    paid_minutes: float

    @property
    def hours(self) -> float:
        return self.minutes / 60.0

    @property
    def paid_hours(self) -> float:
        return self.paid_minutes / 60.0

    @property
    def pro_bono_hours(self) -> float:
        return (self.minutes - self.paid_minutes) / 60.0


@dataclass(frozen=True)
class CoachingLog:
    entries: tuple[LogEntry, ...]
    by_client: tuple[Total, ...]
    overall: Total
    date_from: date | None = None
    date_to: date | None = None


def _total(client: str | None, entries: Sequence[LogEntry]) -> Total:
    return Total(client, len(entries), sum(e.minutes for e in entries),
                 sum(e.minutes for e in entries if e.paid))


def build_log(entries: Sequence[LogEntry], *, date_from: date | None = None,
              date_to: date | None = None) -> CoachingLog:
    """Entries in date order with per-client totals (clients by name, no client last)."""
    ordered = sorted(entries, key=lambda e: (e.session_date, (e.client or "").casefold(), e.title))
    clients: dict[str | None, list[LogEntry]] = {}
    for e in ordered:
        clients.setdefault(e.client, []).append(e)
    names = sorted((c for c in clients if c is not None), key=str.casefold)
    if None in clients:
        names_or_none: list[str | None] = [*names, None]
    else:
        names_or_none = list(names)
    return CoachingLog(
        entries=tuple(ordered),
        by_client=tuple(_total(c, clients[c]) for c in names_or_none),
        overall=_total(None, ordered),
        date_from=date_from,
        date_to=date_to,
    )


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _safe(text: str | None) -> str:
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(log: CoachingLog) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(CSV_COLUMNS)
    for e in log.entries:
        w.writerow([e.source, e.session_date.isoformat(), _safe(e.client), _safe(e.title),
                    e.session_type, "paid" if e.paid else "pro bono", _num(e.minutes),
                    _num(e.minutes / 60.0), "", ""])
    for t in log.by_client:
        w.writerow(["client total", "", _safe(t.client or NO_CLIENT), f"{t.sessions} sessions", "",
                    "", _num(t.minutes), _num(t.hours), _num(t.paid_hours),
                    _num(t.pro_bono_hours)])
    o = log.overall
    w.writerow(["total", "", "", f"{o.sessions} sessions", "", "", _num(o.minutes),
                _num(o.hours), _num(o.paid_hours), _num(o.pro_bono_hours)])
    return buf.getvalue()


def to_xlsx(log: CoachingLog) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Log"
    wb.properties.title = "Coaching log"
    wb.properties.creator = "tapeworks"
    header(ws, ["Date", "Client", "Title", "Type", "Payment", "Minutes", "Hours", "Source"],
           [12, 24, 40, 12, 10, 10, 10, 10])
    for r, e in enumerate(log.entries, start=2):
        ws.cell(row=r, column=1, value=e.session_date).number_format = DATE_FORMAT
        text_cell(ws, r, 2, e.client or "")
        text_cell(ws, r, 3, e.title)
        text_cell(ws, r, 4, e.session_type)
        text_cell(ws, r, 5, "paid" if e.paid else "pro bono")
        number_cell(ws, r, 6, round(e.minutes, 2), MINUTES_FORMAT)
        number_cell(ws, r, 7, e.minutes / 60.0, HOURS_FORMAT)
        text_cell(ws, r, 8, e.source)
    if log.entries:
        ws.auto_filter.ref = f"A1:H{len(log.entries) + 1}"

    ts = wb.create_sheet("Totals")
    header(ts, ["Client", "Sessions", "Hours", "Paid hours", "Pro bono hours"], [28, 10, 10, 12, 14])
    rows = [*log.by_client, log.overall]
    for r, t in enumerate(rows, start=2):
        text_cell(ts, r, 1, "Total" if t is log.overall else (t.client or NO_CLIENT))
        ts.cell(row=r, column=2, value=t.sessions)
        number_cell(ts, r, 3, t.hours, HOURS_FORMAT)
        number_cell(ts, r, 4, t.paid_hours, HOURS_FORMAT)
        number_cell(ts, r, 5, t.pro_bono_hours, HOURS_FORMAT)
        if t is log.overall:
            for c in range(1, 6):
                ts.cell(row=r, column=c).font = Font(bold=True)
    r = len(rows) + 3
    for label, value in (("From", log.date_from), ("To", log.date_to)):
        if value is not None:
            text_cell(ts, r, 1, label)
            ts.cell(row=r, column=2, value=value).number_format = DATE_FORMAT
            r += 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
