"""Search benchmark: full-text search vs the LIKE search it replaces, SQLite and PostgreSQL.

    PYTHONPATH=src .venv/bin/python bench/bench_search.py [--sessions 2000] [--minutes 30]
        [--queries 200] [--only sqlite|postgresql] [--pg postgresql://postgres@127.0.0.1:5432/test]

Builds, for one user, ``--sessions`` sessions of ``--minutes`` minutes of generated
transcript each (about 150 words a minute, segments of ~10 s, words drawn from a
6,000-word Zipf vocabulary with a few real sentences mixed in), indexes them as the app
does (one row per segment; our folding; FTS5 on SQLite, tsvector + GIN on PostgreSQL
with the pairs of adjacent words in ``search_fts_pairs`` for phrases),
then times the same queries three ways in the same run:

* ``fts``: the hit query the search endpoint runs (match, filter by user, rank the newest
  1,000 matching rows, i.e. all of them unless the query is very common, first 20);
* ``like``: the session list's current ``q=`` search (``lower(title) LIKE '%q%' OR
  lower(transcript_text) LIKE '%q%'``, newest 20 sessions), on one row per session holding
  its whole transcript text, as the sessions table does today.

Query classes: ``word`` (a vocabulary word of rank 50-6000), ``common`` (rank 10-50:
thousands of hits to rank), ``phrase`` (two adjacent words taken from the text), and
``prefix`` (the first 3-4 letters of a word, with ``*``). Prints p50/p99 (ms) per class
and dialect, and the index size. Goal: p99 within 50 ms on both.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tapeworks.search import rank  # noqa: E402
from tapeworks.search.query import parse, to_fts5, to_pg_search  # noqa: E402
from tapeworks.search.text import index_body, pairs_literal, tsvector_literal, words  # noqa: E402

USER = "u-bench"
SEGMENT_SECONDS = 10.0
WORDS_PER_MINUTE = 150
VOCAB_SIZE = 6000
SENTENCES = [
    "I would like to talk about the promotion my manager promised",
    "the pay rise was not what we agreed in March",
    "she said the follow-up meeting is next Tuesday",
    "we should look at your goals for the next quarter",
]

SQLITE_DDL = [
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, title TEXT NOT NULL, "
    "transcript_text TEXT, created_at REAL NOT NULL)",
    "CREATE TABLE search_entries (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, "
    'session_id TEXT NOT NULL, kind TEXT NOT NULL, segment_id TEXT, start REAL, "end" REAL, '
    "speaker TEXT, text TEXT NOT NULL)",
    "CREATE INDEX ix_search_entries_session ON search_entries (session_id)",
    "CREATE VIRTUAL TABLE search_fts USING fts5(body, "
    "tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3')",
]
PG_DDL = [
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, title TEXT NOT NULL, "
    "transcript_text TEXT, created_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE search_entries (id BIGINT PRIMARY KEY, user_id TEXT NOT NULL, "
    "session_id TEXT NOT NULL, kind TEXT NOT NULL, segment_id TEXT, start DOUBLE PRECISION, "
    '"end" DOUBLE PRECISION, speaker TEXT, text TEXT NOT NULL)',
    "CREATE INDEX ix_search_entries_session ON search_entries (session_id)",
    "CREATE TABLE search_fts (entry_id BIGINT PRIMARY KEY REFERENCES search_entries (id) "
    "ON DELETE CASCADE, user_id TEXT NOT NULL, vector TSVECTOR NOT NULL)",
    "CREATE TABLE search_fts_pairs (entry_id BIGINT PRIMARY KEY REFERENCES search_entries (id) "
    "ON DELETE CASCADE, user_id TEXT NOT NULL, pairs TSVECTOR NOT NULL)",
    "CREATE INDEX ix_search_fts_vector ON search_fts USING gin (vector)",
    "CREATE INDEX ix_search_fts_pairs ON search_fts_pairs USING gin (pairs)",
]

# As the search service does: the newest CANDIDATES of the user's matching rows (all of
# them for most queries) are ranked, the best 20 are joined to their entries.
CANDIDATES = 1000
FTS_SQLITE = (
    "SELECT e.session_id, e.segment_id, e.start, e.text, r.score FROM ("
    " SELECT c.id, c.score FROM ("
    "  SELECT search_fts.rowid AS id, bm25(search_fts) AS score FROM search_fts"
    "  JOIN search_entries e ON e.id = search_fts.rowid"
    "  WHERE search_fts MATCH ? AND e.user_id = ?"
    f"  ORDER BY search_fts.rowid DESC LIMIT {CANDIDATES}) AS c"
    " ORDER BY c.score, c.id DESC LIMIT 20) AS r"
    " JOIN search_entries e ON e.id = r.id ORDER BY r.score, r.id DESC"
)
FTS_SQLITE_CANDIDATES = (
    "SELECT search_fts.rowid, search_fts.body FROM search_fts"
    " JOIN search_entries e ON e.id = search_fts.rowid"
    " WHERE search_fts MATCH ? AND e.user_id = ?"
    f" ORDER BY search_fts.rowid DESC LIMIT {CANDIDATES}"
)
FTS_PG = (
    "WITH c AS ("
    " SELECT f.entry_id, f.vector FROM {source}"
    " WHERE {where} AND {key_user} = %(u)s"
    f" ORDER BY {{key}} DESC LIMIT {CANDIDATES}),"
    " r AS (SELECT entry_id, ts_rank_cd(vector, CAST(%(q)s AS tsquery)) AS score FROM c"
    " ORDER BY score DESC, entry_id DESC LIMIT 20)"
    " SELECT e.session_id, e.segment_id, e.start, e.text, r.score"
    " FROM r JOIN search_entries e ON e.id = r.entry_id ORDER BY r.score DESC, r.entry_id DESC"
)
# as the service does: words by the vector's GIN index; a wanted phrase's candidates by its
# pairs, then the exact test
FTS_PG_WORDS = FTS_PG.format(
    source="search_fts f",
    where="f.vector @@ CAST(%(q)s AS tsquery)",
    key_user="f.user_id",
    key="f.entry_id",
)
# the newest PAIR_CANDIDATES rows with the phrase's pairs are tested first, the older rest
# only when too few of them pass (the service's `_statement` explains)
PAIR_CANDIDATES = 1100
_EXACT = "ts_match_vq(f.vector, CAST(%(q)s AS tsquery))"
_PAIRS_WHERE = "p.pairs @@ CAST(%(p)s AS tsquery) AND p.user_id = %(u)s"
FTS_PG_PAIRS = (
    "WITH pc AS MATERIALIZED ("
    f" SELECT p.entry_id FROM search_fts_pairs p WHERE {_PAIRS_WHERE}"
    f" ORDER BY p.entry_id DESC LIMIT {PAIR_CANDIDATES}),"
    " fast AS MATERIALIZED ("
    " SELECT f.entry_id, f.vector FROM pc JOIN search_fts f ON f.entry_id = pc.entry_id"
    f" WHERE {_EXACT} ORDER BY f.entry_id DESC LIMIT {CANDIDATES}),"
    " c AS (SELECT entry_id, vector FROM fast UNION ALL ("
    " SELECT f.entry_id, f.vector FROM search_fts_pairs p JOIN search_fts f ON f.entry_id = p.entry_id"
    f" WHERE {_PAIRS_WHERE} AND {_EXACT} AND p.entry_id < (SELECT min(entry_id) FROM pc)"
    f" AND (SELECT count(*) FROM pc) = {PAIR_CANDIDATES}"
    f" AND (SELECT count(*) FROM fast) < {CANDIDATES}"
    f" ORDER BY p.entry_id DESC LIMIT (SELECT {CANDIDATES} - count(*) FROM fast))),"
    " r AS (SELECT entry_id, ts_rank_cd(vector, CAST(%(q)s AS tsquery)) AS score FROM c"
    " ORDER BY score DESC, entry_id DESC LIMIT 20)"
    " SELECT e.session_id, e.segment_id, e.start, e.text, r.score"
    " FROM r JOIN search_entries e ON e.id = r.entry_id ORDER BY r.score DESC, r.entry_id DESC"
)
LIKE_SQL = (
    "SELECT id FROM sessions WHERE user_id = {p} AND (lower(title) LIKE {p} OR "
    "lower(coalesce(transcript_text, '')) LIKE {p}) ORDER BY created_at DESC, id LIMIT 20"
)


# ---------------------------------------------------------------- corpus


def vocabulary(rng: random.Random) -> list[str]:
    syllables = [
        "ka",
        "lo",
        "mi",
        "ne",
        "ta",
        "ru",
        "so",
        "vi",
        "de",
        "ga",
        "po",
        "li",
        "an",
        "er",
        "is",
        "on",
        "us",
        "ba",
        "fe",
        "zu",
        "tra",
        "pri",
        "sto",
        "mel",
    ]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < VOCAB_SIZE:
        w = "".join(rng.choice(syllables) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def sessions(
    n: int, minutes: float, rng: random.Random, vocab: list[str]
) -> Iterator[tuple[str, str, list[tuple[str, float, float, str]]]]:
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    cum = list(_accumulate(weights))
    per_segment = int(WORDS_PER_MINUTE * SEGMENT_SECONDS / 60)
    n_segments = int(minutes * 60 / SEGMENT_SECONDS)
    for s in range(n):
        sid = f"s-{s:05d}"
        segs = []
        for k in range(n_segments):
            ws = rng.choices(vocab, cum_weights=cum, k=per_segment)
            if rng.random() < 0.01:
                ws[: len(SENTENCES[0].split())] = rng.choice(SENTENCES).split()
            segs.append(
                (f"seg-{k + 1:04d}", k * SEGMENT_SECONDS, (k + 1) * SEGMENT_SECONDS, " ".join(ws))
            )
        yield sid, f"Session {s} with {rng.choice(vocab)}", segs


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def queries(
    rng: random.Random, vocab: list[str], sample_text: list[str], n: int
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"word": [], "common": [], "phrase": [], "prefix": []}
    for _ in range(n):
        out["word"].append(vocab[rng.randint(50, len(vocab) - 1)])
        out["common"].append(vocab[rng.randint(10, 50)])
        seg = rng.choice(sample_text).split()
        i = rng.randrange(len(seg) - 1)
        out["phrase"].append(f'"{seg[i]} {seg[i + 1]}"')
        w = rng.choice([v for v in vocab[50:] if len(v) >= 5])
        out["prefix"].append(w[: rng.choice((3, 4))] + "*")
    return out


# ---------------------------------------------------------------- loading


def load_sqlite(path: Path, corpus: list) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for ddl in SQLITE_DDL:
        conn.execute(ddl)
    conn.execute("BEGIN")
    entry = 0
    for n, (sid, title, segs) in enumerate(corpus):
        conn.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
            (sid, USER, title, " ".join(s[3] for s in segs), float(n)),
        )
        rows, fts = [], []
        for seg_id, start, end, text in segs:
            entry += 1
            rows.append((entry, USER, sid, "transcript", seg_id, start, end, "S1", text))
            fts.append((entry, index_body(text)))
        entry += 1
        rows.append((entry, USER, sid, "title", None, None, None, None, title))
        fts.append((entry, index_body(title)))
        conn.executemany("INSERT INTO search_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO search_fts (rowid, body) VALUES (?, ?)", fts)
    conn.execute("COMMIT")
    conn.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
    conn.execute("ANALYZE")
    return conn


def _copy_in_batches(conn: psycopg.Connection, sql: str, rows: Iterator[tuple], batch: int) -> None:
    """COPY in short statements of prepared rows: a backend inside ``COPY FROM STDIN`` does
    not answer the barrier ``DROP DATABASE ... WITH (FORCE)`` waits for, so a long COPY
    would hold up every other test run's database cleanup on this server."""
    chunk: list[tuple] = []

    def flush() -> None:
        with conn.transaction(), conn.cursor().copy(sql) as cp:
            for row in chunk:
                cp.write_row(row)
        chunk.clear()

    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch:
            flush()
    if chunk:
        flush()


def load_pg(dsn: str, corpus: list) -> psycopg.Connection:
    conn = psycopg.connect(dsn, autocommit=True)
    for ddl in PG_DDL[:5]:
        conn.execute(ddl)

    def session_rows() -> Iterator[tuple]:
        for n, (sid, title, segs) in enumerate(corpus):
            yield (sid, USER, title, " ".join(s[3] for s in segs), float(n))

    def entry_rows() -> Iterator[tuple]:
        entry = 0
        for sid, title, segs in corpus:
            for seg_id, start, end, text in segs:
                entry += 1
                yield (entry, USER, sid, "transcript", seg_id, start, end, "S1", text)
            entry += 1
            yield (entry, USER, sid, "title", None, None, None, None, title)

    def vector_rows() -> Iterator[tuple]:
        entry = 0
        for _sid, title, segs in corpus:
            for *_rest, text in segs:
                entry += 1
                yield (entry, USER, tsvector_literal(words(text)))
            entry += 1
            yield (entry, USER, tsvector_literal(words(title)))

    def pair_rows() -> Iterator[tuple]:
        entry = 0
        for _sid, title, segs in corpus:
            for text in [*(seg[3] for seg in segs), title]:
                entry += 1
                tokens = words(text)
                if len(tokens) > 1:
                    yield (entry, USER, pairs_literal(tokens))

    _copy_in_batches(conn, "COPY sessions FROM STDIN", session_rows(), 20)
    _copy_in_batches(conn, "COPY search_entries FROM STDIN", entry_rows(), 2000)
    _copy_in_batches(conn, "COPY search_fts FROM STDIN", vector_rows(), 2000)
    _copy_in_batches(conn, "COPY search_fts_pairs FROM STDIN", pair_rows(), 2000)
    for ddl in PG_DDL[5:]:
        conn.execute(ddl)
    conn.execute("VACUUM ANALYZE")
    return conn


# ---------------------------------------------------------------- timing


def timed(run: Callable[[str], int], qs: list[str]) -> tuple[list[float], int]:
    times, hits = [], 0
    for q in qs:
        t0 = time.perf_counter()
        hits += run(q)
        times.append((time.perf_counter() - t0) * 1000)
    return times, hits


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def like_pattern(q: str) -> str:
    return "%" + q.strip('"').rstrip("*").lower() + "%"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--like-queries", type=int, default=20, help="LIKE is slow: fewer of them")
    ap.add_argument("--only", choices=("sqlite", "postgresql"))
    ap.add_argument(
        "--pg",
        default=os.environ.get("TAPEWORKS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep-pg", action="store_true", help="keep the PostgreSQL database")
    args = ap.parse_args()

    rng = random.Random(7)
    vocab = vocabulary(rng)
    t0 = time.perf_counter()
    corpus = list(sessions(args.sessions, args.minutes, rng, vocab))
    n_segments = sum(len(s[2]) for s in corpus)
    n_words = sum(len(seg[3].split()) for s in corpus for seg in s[2])
    print(
        f"corpus: {args.sessions} sessions x {args.minutes:g} min = {n_segments} segments, "
        f"{n_words / 1e6:.1f} M words, generated in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    sample = [seg[3] for s in corpus[:50] for seg in s[2]]
    qsets = queries(random.Random(11), vocab, sample, args.queries)
    for qs in qsets.values():  # every query is valid in our language
        for q in qs:
            parse(q)
    results: dict[str, dict] = {}

    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            conn = load_sqlite(Path(tmp) / "bench.db", corpus)
            load_s = time.perf_counter() - t0

            def fts_sqlite(q: str) -> int:
                query = parse(q)
                if not any(len(t.tokens) > 1 for t in query.positive_terms()):
                    return len(conn.execute(FTS_SQLITE, (to_fts5(query), USER)).fetchall())
                # a phrase, as the service does: the candidates, ranked by `rank.bm25`
                c = conn.execute(FTS_SQLITE_CANDIDATES, (to_fts5(query), USER)).fetchall()
                scores = rank.bm25(query, [r[1] for r in c])
                best = sorted(
                    zip(scores, (r[0] for r in c), strict=True), key=lambda p: (-p[0], -p[1])
                )
                ids = [i for _, i in best[:20]]
                marks = ",".join("?" * len(ids))
                sql = f"SELECT session_id, segment_id, start, text FROM search_entries WHERE id IN ({marks})"
                return len(conn.execute(sql, ids).fetchall()) if ids else 0

            def like_sqlite(q: str) -> int:
                p = like_pattern(q)
                return len(conn.execute(LIKE_SQL.format(p="?"), (USER, p, p)).fetchall())

            size = _sqlite_index_bytes(conn)
            results["sqlite"] = _measure(fts_sqlite, like_sqlite, qsets, args.like_queries)
            results["sqlite"]["index_mb"] = size / 1e6
            results["sqlite"]["load_s"] = load_s
            conn.close()

    if args.only in (None, "postgresql"):
        name = f"tw_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            dsn = args.pg.rsplit("/", 1)[0] + "/" + name
            t0 = time.perf_counter()
            pg = load_pg(dsn, corpus)
            load_s = time.perf_counter() - t0

            # as the service does (SET LOCAL in its transaction): a plan for the values
            pg.execute("SET plan_cache_mode = force_custom_plan")

            def fts_pg(q: str) -> int:
                s = to_pg_search(parse(q))
                sql = FTS_PG_WORDS if s.pairs is None else FTS_PG_PAIRS
                # as the service does for pairs (SET LOCAL there)
                pg.execute(
                    "RESET random_page_cost" if s.pairs is None else "SET random_page_cost = 1.1"
                )
                return len(pg.execute(sql, {"q": s.exact, "p": s.pairs, "u": USER}).fetchall())

            def like_pg(q: str) -> int:
                p = like_pattern(q)
                return len(pg.execute(LIKE_SQL.format(p="%s"), (USER, p, p)).fetchall())

            results["postgresql"] = _measure(fts_pg, like_pg, qsets, args.like_queries)
            row = pg.execute(
                "SELECT pg_total_relation_size('search_fts'), "
                "pg_relation_size('ix_search_fts_vector'), "
                "pg_total_relation_size('search_fts_pairs'), "
                "pg_relation_size('ix_search_fts_pairs')"
            ).fetchone()
            assert row is not None
            results["postgresql"]["index_mb"] = (row[0] + row[2]) / 1e6
            results["postgresql"]["gin_mb"] = row[1] / 1e6
            results["postgresql"]["pairs_mb"] = row[2] / 1e6
            results["postgresql"]["pairs_gin_mb"] = row[3] / 1e6
            results["postgresql"]["load_s"] = load_s
            pg.close()
        finally:
            if args.keep_pg:
                print(f"kept database {name}", file=sys.stderr)
            else:
                with psycopg.connect(args.pg, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(
        f"\nsearch over {args.sessions} sessions x {args.minutes:g} min "
        f"({n_segments} segments, {n_words / 1e6:.1f} M words), one user; ms per query"
    )
    print(
        f"{'dialect':<11} {'class':<7} {'fts p50':>8} {'fts p99':>8} {'hits/q':>7} "
        f"{'like p50':>9} {'like p99':>9}"
    )
    for dialect, r in results.items():
        for cls, m in r["classes"].items():
            print(
                f"{dialect:<11} {cls:<7} {m['fts_p50']:8.1f} {m['fts_p99']:8.1f} "
                f"{m['fts_hits']:7.1f} {m['like_p50']:9.1f} {m['like_p99']:9.1f}"
            )
        extra = (
            f" (words {r['index_mb'] - r['pairs_mb']:.0f} MB with GIN {r['gin_mb']:.0f} MB; "
            f"pairs {r['pairs_mb']:.0f} MB with GIN {r['pairs_gin_mb']:.0f} MB)"
            if "gin_mb" in r
            else ""
        )
        print(f"{dialect:<11} index {r['index_mb']:.0f} MB{extra}; loaded in {r['load_s']:.0f} s")
    worst = max(
        (m["fts_p99"] for r in results.values() for m in r["classes"].values()), default=0.0
    )
    print(f"worst fts p99: {worst:.1f} ms (goal 50 ms)")
    if args.json:
        print(json.dumps(results, indent=2))


def _measure(
    fts: Callable[[str], int], like: Callable[[str], int], qsets: dict[str, list[str]], like_n: int
) -> dict:
    out: dict[str, dict] = {}
    for cls, qs in qsets.items():
        fts(qs[0])  # warm the cache for this class
        ft, hits = timed(fts, qs)
        lt, _ = timed(like, qs[:like_n])
        out[cls] = {
            "fts_p50": statistics.median(ft),
            "fts_p99": pct(ft, 99),
            "fts_hits": hits / len(qs),
            "like_p50": statistics.median(lt),
            "like_p99": pct(lt, 99),
        }
    return {"classes": out}


def _sqlite_index_bytes(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute(
            "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'search_fts%'"
        ).fetchone()
        return int(row[0] or 0)
    except sqlite3.OperationalError:  # no dbstat in this build: pages of the FTS tables
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        n = conn.execute("SELECT COUNT(*) FROM search_fts_data").fetchone()[0]
        return int(n * page)


if __name__ == "__main__":
    main()
