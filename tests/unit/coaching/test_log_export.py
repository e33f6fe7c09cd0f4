"""Coaching-log writers: totals add up, CSV is RFC 4180, XLSX has real dates and numbers."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from tapeworks.coaching.log_export import CSV_COLUMNS, LogEntry, build_log, to_csv, to_xlsx

ENTRIES = [
    LogEntry(date(2026, 3, 2), "Ana, \"the\" client", "Kick-off\nsession", "individual", True, 60),
    LogEntry(date(2026, 3, 1), "Ana, \"the\" client", "Second", "individual", False, 45.5),
    LogEntry(date(2026, 3, 5), "Björn", "=HYPERLINK(\"x\")", "team", True, 90),
    LogEntry(date(2026, 3, 7), None, "Drop-in", "group", False, 30, source="manual"),
]


def test_totals_match_the_entries():
    log = build_log(ENTRIES)
    assert [e.session_date for e in log.entries] == sorted(e.session_date for e in ENTRIES)
    by = {t.client: t for t in log.by_client}
    assert [t.client for t in log.by_client] == ["Ana, \"the\" client", "Björn", None]
    assert by["Ana, \"the\" client"].sessions == 2
    assert by["Ana, \"the\" client"].hours == pytest.approx(105.5 / 60)
    assert by["Ana, \"the\" client"].paid_hours == pytest.approx(1.0)
    assert by["Ana, \"the\" client"].pro_bono_hours == pytest.approx(45.5 / 60)
    assert log.overall.hours == pytest.approx(225.5 / 60)
    assert log.overall.sessions == 4
    assert sum(t.minutes for t in log.by_client) == log.overall.minutes


def test_csv_is_rfc_4180():
    text = to_csv(build_log(ENTRIES))
    assert text.endswith("\r\n")
    lines = text.split("\r\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    # quotes doubled, fields with commas, quotes and line breaks quoted
    assert '"Ana, ""the"" client"' in text and '"Kick-off\nsession"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert all(len(r) == len(CSV_COLUMNS) for r in rows)
    entries = [r for r in rows[1:] if r[0] in ("session", "manual")]
    assert [r[1] for r in entries] == ["2026-03-01", "2026-03-02", "2026-03-05", "2026-03-07"]
    assert entries[0][2] == 'Ana, "the" client' and entries[1][3] == "Kick-off\nsession"
    assert entries[2][3] == "'=HYPERLINK(\"x\")"  # not run as a formula by a spreadsheet
    assert entries[0][6:8] == ["45.5", "0.76"]
    totals = {r[2]: r for r in rows if r[0] == "client total"}
    assert totals["Björn"][6:10] == ["90", "1.5", "1.5", "0"]
    assert totals["(no client)"][9] == "0.5"
    total = rows[-1]
    assert total[0] == "total" and total[6] == "225.5" and total[7] == "3.76"
    assert float(total[8]) + float(total[9]) == pytest.approx(float(total[7]), abs=0.011)


def test_xlsx_has_date_and_number_cells():
    data = to_xlsx(build_log(ENTRIES, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31)))
    wb = load_workbook(io.BytesIO(data))
    ws = wb["Log"]
    rows = list(ws.iter_rows(min_row=2))
    assert len(rows) == 4
    first = rows[0]
    assert first[0].is_date and first[0].value == datetime(2026, 3, 1)
    assert first[5].data_type == "n" and first[5].value == 45.5
    assert first[6].value == pytest.approx(45.5 / 60)
    formula = rows[2][2]
    assert formula.data_type == "s" and formula.value == "=HYPERLINK(\"x\")"
    totals = {r[0]: r for r in wb["Totals"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert totals["Total"][1] == 4
    assert totals["Total"][2] == pytest.approx(225.5 / 60)
    assert totals["Björn"][3] == pytest.approx(1.5)
    assert totals["(no client)"][4] == pytest.approx(0.5)
    assert totals["From"][1] == datetime(2026, 3, 1) and totals["To"][1] == datetime(2026, 3, 31)


def test_empty_log():
    log = build_log([])
    assert log.overall.sessions == 0 and log.overall.hours == 0
    assert to_csv(log).split("\r\n")[1].startswith("total,")
    wb = load_workbook(io.BytesIO(to_xlsx(log)))
    assert wb["Log"].max_row == 1
