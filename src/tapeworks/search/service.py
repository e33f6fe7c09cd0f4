"""Search: keep the full-text index current, and find the moments a query matches.

The index is written in the same transaction as the change it reflects (a transcript
saved or edited, a title changed, a note written or deleted), so a search never sees a
word that rolled back and always sees one that committed. The sessions domain calls the
functions here through the hooks the runtime gives it (`tapeworks.sessions.hooks`); this
domain imports sessions, never the reverse. Deleting a session deletes its entries by
foreign key, and their index rows with them (trigger on SQLite, cascade on PostgreSQL).
Retention deletes source audio only, never transcripts, so the index keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import ValidationFailed
from tapeworks.logging import get_logger
from tapeworks.search import rank
from tapeworks.search.models import SearchEntry
from tapeworks.search.query import SearchQuery, parse, to_fts5, to_pg_search
from tapeworks.search.snippets import highlight
from tapeworks.search.text import index_body, pairs_literal, tsvector_literal, words
from tapeworks.transcripts.exporters import speaker_label
from tapeworks.transcripts.model import Transcript

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime
    from tapeworks.sessions.models import RecordingSession, SessionNote

log = get_logger(__name__)

MAX_LIMIT = 100


def _dialect(db: DbSession) -> str:
    return db.get_bind().dialect.name


# ---------------------------------------------------------------- writing the index


def _add(db: DbSession, entries: Sequence[SearchEntry]) -> None:
    entries = [e for e in entries if words(e.text)]
    if not entries:
        return
    db.add_all(entries)
    db.flush()  # the ids key the full-text rows
    if _dialect(db) == "sqlite":
        db.execute(
            text("INSERT INTO search_fts (rowid, body) VALUES (:id, :body)"),
            [{"id": e.id, "body": index_body(e.text)} for e in entries],
        )
    else:
        tokens = {e.id: words(e.text) for e in entries}
        db.execute(
            text(
                "INSERT INTO search_fts (entry_id, user_id, vector) "
                "VALUES (:id, :user_id, CAST(:vector AS tsvector))"
            ),
            [
                {"id": e.id, "user_id": e.user_id, "vector": tsvector_literal(tokens[e.id])}
                for e in entries
            ],
        )
        pairs = [
            {"id": e.id, "user_id": e.user_id, "pairs": pairs_literal(tokens[e.id])}
            for e in entries
            if len(tokens[e.id]) > 1
        ]
        if pairs:
            db.execute(
                text(
                    "INSERT INTO search_fts_pairs (entry_id, user_id, pairs) "
                    "VALUES (:id, :user_id, CAST(:pairs AS tsvector))"
                ),
                pairs,
            )


def index_transcript(db: DbSession, session: RecordingSession, transcript: Transcript) -> None:
    """Replace the session's transcript entries with the segments of ``transcript``."""
    db.execute(
        delete(SearchEntry).where(
            SearchEntry.session_id == session.id, SearchEntry.kind == "transcript"
        )
    )
    _add(
        db,
        [
            SearchEntry(
                user_id=session.user_id,
                session_id=session.id,
                kind="transcript",
                segment_id=seg.id,
                start=seg.start,
                end=seg.end,
                speaker=(speaker_label(transcript, seg.speaker) or None),
                text=seg.text,
            )
            for seg in transcript.segments
            if seg.text.strip()
        ],
    )


def index_title(db: DbSession, session: RecordingSession) -> None:
    db.execute(
        delete(SearchEntry).where(SearchEntry.session_id == session.id, SearchEntry.kind == "title")
    )
    _add(
        db,
        [
            SearchEntry(
                user_id=session.user_id,
                session_id=session.id,
                kind="title",
                text=session.title or "",
            )
        ],
    )


def index_note(db: DbSession, note: SessionNote) -> None:
    unindex_note(db, note.id)
    _add(
        db,
        [
            SearchEntry(
                user_id=note.user_id,
                session_id=note.session_id,
                kind="note",
                note_id=note.id,
                start=note.start,
                end=note.end,
                text=note.text,
            )
        ],
    )


def unindex_note(db: DbSession, note_id: str) -> None:
    db.execute(delete(SearchEntry).where(SearchEntry.note_id == note_id))


def index_session(
    db: DbSession,
    session: RecordingSession,
    transcript: Transcript | None,
    notes: Sequence[SessionNote],
) -> None:
    """Everything of one session, from scratch."""
    db.execute(delete(SearchEntry).where(SearchEntry.session_id == session.id))
    index_title(db, session)
    if transcript is not None:
        index_transcript(db, session, transcript)
    for note in notes:
        index_note(db, note)


@dataclass
class ReindexReport:
    sessions: int = 0
    entries: int = 0
    without_transcript: int = 0


def reindex(rt: Runtime, *, user_id: str | None = None) -> ReindexReport:
    """Rebuild the index from the store (transcripts) and the database (titles, notes),
    one session per short transaction; the transcript is read with no transaction open."""
    from tapeworks.sessions import service as sessions
    from tapeworks.sessions.models import RecordingSession, SessionNote

    report = ReindexReport()
    with rt.database.transaction(write=False) as db:
        stmt = select(RecordingSession.id, RecordingSession.user_id)
        if user_id:
            stmt = stmt.where(RecordingSession.user_id == user_id)
        ids = [(r[0], r[1]) for r in db.execute(stmt.order_by(RecordingSession.created_at))]
    if user_id is None:  # index rows whose entry is gone (should never exist)
        with rt.database.transaction() as db:
            if _dialect(db) == "sqlite":
                db.execute(
                    text(
                        "DELETE FROM search_fts WHERE rowid NOT IN (SELECT id FROM search_entries)"
                    )
                )
    for session_id, owner in ids:
        with rt.database.transaction(write=False) as db:
            s = sessions.get_session(db, owner, session_id)
            has_transcript = s.transcript_version > 0 and bool(s.transcript_key)
        transcript = sessions.load_transcript(rt, s) if has_transcript else None

        def write(
            db: DbSession,
            session_id: str = session_id,
            owner: str = owner,
            transcript: Transcript | None = transcript,
        ) -> int:
            s = sessions.get_session(db, owner, session_id)
            notes = list(db.scalars(select(SessionNote).where(SessionNote.session_id == s.id)))
            index_session(db, s, transcript, notes)
            return len(
                db.scalars(select(SearchEntry.id).where(SearchEntry.session_id == s.id)).all()
            )

        report.entries += rt.database.run(write)
        report.sessions += 1
        report.without_transcript += transcript is None
    log.info("search.reindexed", sessions=report.sessions, entries=report.entries)
    return report


# ---------------------------------------------------------------- searching


@dataclass(frozen=True)
class Hit:
    session_id: str
    session_title: str
    segment_id: str | None
    kind: str
    start: float | None
    end: float | None
    speaker: str | None
    snippet: str
    score: float  # higher is better (`rank.bm25` on SQLite, ts_rank_cd on PostgreSQL)


@dataclass(frozen=True)
class HitPage:
    query: str
    hits: list[Hit]
    limit: int
    offset: int
    has_more: bool


# The newest CANDIDATES of the user's matching rows are ranked: every match of most
# queries; for a word found in very many segments, its most recent ones. This keeps a query
# within tens of milliseconds however common its words are (bench/bench_search.py).
CANDIDATES = 1000
# A phrase tests this many of the newest rows holding its pairs before reading further
# (a few hold the pairs but not the phrase: see `_statement`)
PAIR_CANDIDATES = 1100
_COLUMNS = (
    'e.session_id, s.title, e.segment_id, e.kind, e.start, e."end", e.speaker, e.text, r.score'
)


def _filters(
    client_id: str | None, date_from: date | None, date_to: date | None, params: dict[str, Any]
) -> str:
    sql = ""
    if client_id:
        sql += " AND s.client_id = :client_id"
        params["client_id"] = client_id
    if date_from:
        sql += " AND s.session_date >= :date_from"
        params["date_from"] = date_from
    if date_to:
        sql += " AND s.session_date <= :date_to"
        params["date_to"] = date_to
    return sql


def _statement(dialect: str, query: SearchQuery, filters: str, params: dict[str, Any]) -> str:
    """Candidates (match, this user, filters; newest first, capped), ranked, the page of
    them joined to entries and sessions. Only bound values vary: the SQL is fixed text."""
    join_sessions = " JOIN sessions s ON s.id = e.session_id" if filters else ""
    if dialect == "sqlite":
        params["q"] = to_fts5(query)
        candidates = (
            f"SELECT search_fts.rowid AS id, {{score}} FROM search_fts"
            f" JOIN search_entries e ON e.id = search_fts.rowid{join_sessions}"
            f" WHERE search_fts MATCH :q AND e.user_id = :user_id{filters}"
            " ORDER BY search_fts.rowid DESC LIMIT :candidates"
        )
        if _has_phrase(query):  # the candidates only: `search` ranks them (`rank.bm25`)
            return candidates.format(score="search_fts.body")
        return (
            f"SELECT {_COLUMNS} FROM ("
            " SELECT c.id, c.score FROM ("
            + candidates.format(score="bm25(search_fts) AS score")
            + ") AS c ORDER BY c.score, c.id DESC LIMIT :limit OFFSET :offset) AS r"
            " JOIN search_entries e ON e.id = r.id JOIN sessions s ON s.id = e.session_id"
            " ORDER BY r.score, r.id DESC"
        )
    pg = to_pg_search(query)
    params["q"] = pg.exact
    rank = (
        " r AS (SELECT entry_id AS id, -ts_rank_cd(vector, CAST(:q AS tsquery)) AS score"
        " FROM c ORDER BY score, entry_id DESC LIMIT :limit OFFSET :offset)"
        f" SELECT {_COLUMNS} FROM r JOIN search_entries e ON e.id = r.id"
        " JOIN sessions s ON s.id = e.session_id ORDER BY r.score, r.id DESC"
    )
    if pg.pairs is None:
        join = (
            " JOIN search_entries e ON e.id = f.entry_id JOIN sessions s ON s.id = e.session_id"
            if filters
            else ""
        )
        return (
            "WITH c AS ("
            f" SELECT f.entry_id, f.vector FROM search_fts f{join}"
            f" WHERE f.vector @@ CAST(:q AS tsquery) AND f.user_id = :user_id{filters}"
            " ORDER BY f.entry_id DESC LIMIT :candidates),"
            f"{rank}"
        )
    # A wanted phrase: candidates by its pairs (`to_pg_search`), then the exact test, a
    # function call, which the planner leaves unestimated: it plans by how common the pairs
    # are (its guess for a phrase itself is how often its words meet anywhere, far too high
    # for a rare phrase of common words, which then scanned the whole index). The newest
    # PAIR_CANDIDATES rows with the pairs (pc) are tested first; only if they were that many
    # and fewer than CANDIDATES of them pass does the older rest get read (the one-time
    # filter of the second half of c), so c is always the newest CANDIDATES matches.
    params["pairs"], params["pair_candidates"] = pg.pairs, PAIR_CANDIDATES
    pairs = "search_fts_pairs p" + (
        " JOIN search_entries e ON e.id = p.entry_id JOIN sessions s ON s.id = e.session_id"
        if filters
        else ""
    )
    pairs_where = f"p.pairs @@ CAST(:pairs AS tsquery) AND p.user_id = :user_id{filters}"
    exact = "ts_match_vq(f.vector, CAST(:q AS tsquery))"
    return (
        "WITH pc AS MATERIALIZED ("
        f" SELECT p.entry_id FROM {pairs} WHERE {pairs_where}"
        " ORDER BY p.entry_id DESC LIMIT :pair_candidates),"
        " fast AS MATERIALIZED ("
        " SELECT f.entry_id, f.vector FROM pc JOIN search_fts f ON f.entry_id = pc.entry_id"
        f" WHERE {exact} ORDER BY f.entry_id DESC LIMIT :candidates),"
        " c AS (SELECT entry_id, vector FROM fast UNION ALL ("
        f" SELECT f.entry_id, f.vector FROM {pairs} JOIN search_fts f ON f.entry_id = p.entry_id"
        f" WHERE {pairs_where} AND {exact}"
        " AND p.entry_id < (SELECT min(entry_id) FROM pc)"
        " AND (SELECT count(*) FROM pc) = :pair_candidates"
        " AND (SELECT count(*) FROM fast) < :candidates"
        " ORDER BY p.entry_id DESC LIMIT (SELECT :candidates - count(*) FROM fast))),"
        f"{rank}"
    )


def _has_phrase(query: SearchQuery) -> bool:
    """FTS5's bm25() counts the rows holding each phrase by reading all their positions (100
    ms for a phrase of common words in the benchmark): such queries are ranked by
    `rank.bm25` over the candidates instead; words keep bm25(), which reads only doclists."""
    return any(len(t.tokens) > 1 for t in query.positive_terms())


_ENTRIES = text(
    'SELECT e.id, e.session_id, s.title, e.segment_id, e.kind, e.start, e."end", e.speaker,'
    " e.text FROM search_entries e JOIN sessions s ON s.id = e.session_id WHERE e.id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def _ranked_sqlite(
    db: DbSession, query: SearchQuery, candidates: Sequence[Any], *, limit: int, offset: int
) -> list[tuple[Any, ...]]:
    """SQLite's page of hits (one more than ``limit``), best first, in the row shape the
    PostgreSQL statement returns (its last column the negated score)."""
    scores = rank.bm25(query, [c[1] for c in candidates])
    best = sorted(
        zip(scores, (int(c[0]) for c in candidates), strict=True), key=lambda p: (-p[0], -p[1])
    )[offset : offset + limit + 1]
    if not best:
        return []
    found = {r[0]: r for r in db.execute(_ENTRIES, {"ids": [i for _, i in best]})}
    return [(*found[i][1:], -score) for score, i in best if i in found]


def search(
    db: DbSession,
    user_id: str,
    q: str,
    *,
    client_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = 20,
    offset: int = 0,
) -> HitPage:
    """The user's hits for ``q``, best first: transcript segments, titles and notes."""
    query = parse(q)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}", details={"field": "limit"}
        )
    if offset < 0:
        raise ValidationFailed("offset must not be negative", details={"field": "offset"})
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("'from' is after 'to'", details={"field": "from"})
    params: dict[str, Any] = {
        "user_id": user_id,
        "limit": limit + 1,
        "offset": offset,
        "candidates": CANDIDATES,
    }
    dialect = _dialect(db)
    sql = _statement(dialect, query, _filters(client_id, date_from, date_to, params), params)
    if dialect == "postgresql":
        # The plan depends on the values: how common the words or pairs are decides between
        # the GIN index and the newest rows first. psycopg prepares a statement run five
        # times on a connection, and PostgreSQL may then keep one generic plan for every
        # query (in the benchmark: 300 ms instead of 12 ms for a phrase of common words).
        db.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        if "pairs" in params:
            # the pairs' statistics are close to exact, so the cost model decides between the
            # newest rows first and the GIN index; with the default random_page_cost (disks)
            # it scanned 100,000 rows for a pair in 1 % of them rather than fetch those 1 %
            # (index pages are in memory; for words, whose prefix estimates are rough, the
            # default chooses better: bench/bench_search.py)
            db.execute(text("SET LOCAL random_page_cost = 1.1"))
    rows: Sequence[Any]
    try:
        rows = db.execute(text(sql), params).all()
    except DBAPIError as exc:
        # the compilers only make valid queries; should the engine still refuse one, that is
        # our bug, reported as a refusal of this query rather than a 500
        message = str(exc.orig).lower()
        if "fts5" not in message and "tsquery" not in message:
            raise
        log.error("search.query_failed", error=str(exc.orig)[:300], query=q[:200])
        raise ValidationFailed(
            "this search could not be run; try fewer or simpler words", details={"field": "q"}
        ) from exc
    if dialect == "sqlite" and _has_phrase(query):
        rows = _ranked_sqlite(db, query, rows, limit=limit, offset=offset)
    hits = [
        Hit(
            session_id=r[0],
            session_title=r[1],
            segment_id=r[2],
            kind=r[3],
            start=r[4],
            end=r[5],
            speaker=r[6],
            snippet=highlight(r[7], query),
            score=-float(r[8]),
        )
        for r in rows[:limit]
    ]
    return HitPage(query=q, hits=hits, limit=limit, offset=offset, has_more=len(rows) > limit)
