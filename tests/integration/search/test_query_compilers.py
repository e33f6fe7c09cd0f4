"""Both compiled forms of a query against real full-text tables: SQLite FTS5 and a
PostgreSQL tsvector column with a GIN index, in a database built by the migrations.

Each database must return exactly the rows that `matches` (the query's meaning in plain
Python) says, for hand-written queries and for a few hundred random ones, and no query a
user can type may make the database raise.
"""

from __future__ import annotations

import random
import shutil

import pytest
from sqlalchemy import Engine, text

from tapeworks.db.engine import make_engine
from tapeworks.errors import ValidationFailed
from tapeworks.search.query import matches, parse, to_fts5, to_pg_search
from tapeworks.search.text import index_body, pairs_literal, tsvector_literal, words
from tests.conftest import DIALECTS, _pg_url, create_pg_database, drop_pg_database

CORPUS = [
    "We talked about the promotion and the pay rise, not the salary.",
    "Her promotion was promised last spring; the manager said so.",
    "The boss promised a pay review in March.",
    "Promoted twice in two years, she wants a new challenge.",
    "Rise early, pay later: that is the rule.",
    "A follow-up meeting with the team is on Tuesday.",
    "Follow up with the client about the e-mail.",
    "Un café, s'il vous plaît. Le café était froid.",
    "The cafe on the corner serves good coffee.",
    "Σήμερα μιλήσαμε για την προαγωγή της.",
    "Άλφα και ωμέγα της συζήτησης.",
    "Сегодня мы говорили о повышении зарплаты.",
    "Йогурт и кофе на завтрак.",
    "我想升职，但是老板不同意。",
    "升职以后，工作更忙了。",
    "職場的升遷機會很少。",
    "Zoë Ünal-Łukasiewicz met Søren at the Straße café.",
    "Don't stop; it's the year 2024 and mp3 files are everywhere.",
    "OR and NOT and NEAR are just words here, near the end.",
    "Tom & Jerry <script>alert(1)</script> said 'drop table sessions'.",
    "bonus scheme bonus scheme bonus",
    "salary salary salary review",
    "",
]
CORPUS += [f"filler sentence number {i} about nothing in particular" for i in range(30)]

HAND_QUERIES = [
    "promotion",
    "PROMOTION",
    "promot*",
    "promotion -salary",
    '"pay rise"',
    '"rise pay"',
    "pay rise",
    "boss OR manager",
    "manager OR boss promised",
    '-"pay rise" pay',
    "follow-up",
    '"follow up"',
    "e-mail",
    "email",
    "cafe",
    "café",
    "CAFÉ",
    "αλφα",
    "Άλφα",
    "προαγωγή",
    "ПОВЫШЕНИИ",
    "йогурт",
    "иогурт",
    "升职",
    "升",
    "职 老板",
    "升遷",
    "lukasiewicz",
    "Łukasiewicz",
    "soren",
    "strasse",
    "don't",
    "2024",
    "mp3",
    "mp*",
    "OR",
    "OR OR",
    "near",
    "NEAR(a b)",
    "NOT",
    "script",
    "drop table sessions",
    "'; DROP TABLE sessions; --",
    "bonus -scheme",
    '"bonus scheme" -salary',
    '"bonus s"*',
    "sal* rev*",
    "filler -nothing",
    "number 17",
    "a:* & !b",
    "title:promotion",
    "{body}: promotion",
    "promotion)",
    "(promotion",
    '"unclosed phrase',
    "x" * 200,
]

FTS5_DDL = (
    "CREATE VIRTUAL TABLE fts_probe USING fts5(body, tokenize = 'unicode61 remove_diacritics 0')"
)
PG_DDL = [
    "CREATE TABLE fts_probe (id integer PRIMARY KEY, vector tsvector NOT NULL)",
    "CREATE INDEX ix_fts_probe_vector ON fts_probe USING gin (vector)",
    "CREATE TABLE fts_probe_pairs (id integer PRIMARY KEY, pairs tsvector NOT NULL)",
    "CREATE INDEX ix_fts_probe_pairs ON fts_probe_pairs USING gin (pairs)",
]


class Probe:
    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)
        self.dialect = self.engine.dialect.name

    def load(self, docs: list[str]) -> None:
        with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                conn.execute(text(FTS5_DDL))
                for i, doc in enumerate(docs):
                    conn.execute(
                        text("INSERT INTO fts_probe (rowid, body) VALUES (:i, :b)"),
                        {"i": i, "b": index_body(doc)},
                    )
            else:
                for ddl in PG_DDL:
                    conn.execute(text(ddl))
                for i, doc in enumerate(docs):
                    conn.execute(
                        text(
                            "INSERT INTO fts_probe (id, vector) VALUES (:i, CAST(:v AS tsvector))"
                        ),
                        {"i": i, "v": tsvector_literal(words(doc))},
                    )
                    if len(words(doc)) > 1:
                        conn.execute(
                            text("INSERT INTO fts_probe_pairs VALUES (:i, CAST(:p AS tsvector))"),
                            {"i": i, "p": pairs_literal(words(doc))},
                        )

    def search(self, user_query: str) -> set[int]:
        q = parse(user_query)
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                rows = conn.execute(
                    text("SELECT rowid FROM fts_probe WHERE fts_probe MATCH :q"), {"q": to_fts5(q)}
                )
            else:  # as the service does: a wanted phrase by its pairs, then the exact test
                pg = to_pg_search(q)
                sql = (
                    "SELECT id FROM fts_probe WHERE vector @@ CAST(:q AS tsquery)"
                    if pg.pairs is None
                    else "SELECT f.id FROM fts_probe_pairs p JOIN fts_probe f ON f.id = p.id "
                    "WHERE p.pairs @@ CAST(:p AS tsquery) AND ts_match_vq(f.vector, CAST(:q AS tsquery))"
                )
                rows = conn.execute(text(sql), {"q": pg.exact, "p": pg.pairs})
            return {int(r[0]) for r in rows}

    def candidates(self, user_query: str) -> set[int] | None:
        """PostgreSQL's rows for the pairs alone (what their index narrows to), None when the
        query has no pairs to narrow by."""
        pairs = to_pg_search(parse(user_query)).pairs
        if pairs is None:
            return None
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id FROM fts_probe_pairs WHERE pairs @@ CAST(:p AS tsquery)"),
                {"p": pairs},
            )
            return {int(r[0]) for r in rows}

    def ranked(self, user_query: str) -> list[int]:
        q = parse(user_query)
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                rows = conn.execute(
                    text(
                        "SELECT rowid FROM fts_probe WHERE fts_probe MATCH :q ORDER BY bm25(fts_probe)"
                    ),
                    {"q": to_fts5(q)},
                )
            else:
                rows = conn.execute(
                    text(
                        "SELECT id FROM fts_probe WHERE vector @@ CAST(:q AS tsquery) "
                        "ORDER BY ts_rank_cd(vector, CAST(:q AS tsquery)) DESC"
                    ),
                    {"q": to_pg_search(q).exact},
                )
            return [int(r[0]) for r in rows]

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture(scope="module", params=DIALECTS)
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One migrated database per dialect for the whole module (the corpus is read-only)."""
    created = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("fts") / "probe.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        created = create_pg_database(template=request.getfixturevalue("pg_template"))
        url = _pg_url(created)
    p = Probe(url)
    p.load(CORPUS)
    yield p
    p.close()
    if created:
        drop_pg_database(created)


def expected(user_query: str) -> set[int]:
    q = parse(user_query)
    return {i for i, doc in enumerate(CORPUS) if matches(q, doc)}


@pytest.mark.parametrize("user_query", HAND_QUERIES)
def test_hand_written_queries_find_exactly_what_they_mean(probe: Probe, user_query: str):
    assert probe.search(user_query) == expected(user_query)


def test_the_cases_users_care_about(probe: Probe):
    assert probe.search("promotion") == {0, 1}
    assert probe.search("promot*") == {0, 1, 3}
    assert probe.search('"pay rise"') == {0}
    assert probe.search("pay rise") == {0, 4}
    assert probe.search("promotion -salary") == {1}
    assert probe.search("cafe") == probe.search("CAFÉ") == {7, 8, 16}
    assert probe.search("升职") == {13, 14}
    assert probe.search("升遷") == {15}
    assert probe.search("ΠΡΟΑΓΩΓΗ") == {9}
    assert probe.search("повышении") == {11}
    assert probe.search("lukasiewicz") == {16}
    assert probe.search("follow-up") == {5, 6}


def test_phrases_narrow_by_their_pairs_on_postgresql(probe: Probe):
    # "rise pay" is in no row, though both words are in rows 0 and 4 ("Rise early, pay later")
    assert probe.search('"pay rise"') == {0} and probe.search('"rise pay"') == set()
    assert probe.search('"pay r"*') == {0, 2}
    assert probe.search('pay -"pay rise"') == {2, 4}
    if probe.dialect == "postgresql":  # FTS5 keeps positions: no pairs there
        assert probe.candidates('"pay rise"') == {0}
        assert probe.candidates('"rise pay"') == set()
        assert probe.candidates("升职") == {13, 14}
        assert probe.candidates('"pay rise" OR "boss promised"') == {0, 2}
        # nothing to narrow by: a prefix pairs with nothing; an unwanted phrase's pairs
        # would promise nothing
        assert probe.candidates('"pay r"*') is None
        assert probe.candidates('pay -"pay rise"') is None


def test_random_queries_agree_with_the_reference(probe: Probe):
    vocab = sorted({w for doc in CORPUS for w in words(doc)} | {"absent", "nowhere"})
    rng = random.Random(17)
    for _ in range(250):
        parts = []
        for _ in range(rng.randint(1, 4)):
            roll = rng.random()
            w = rng.choice(vocab)
            if roll < 0.15 and len(w) >= 3:
                parts.append(w[: rng.randint(2, len(w) - 1)] + "*")
            elif roll < 0.3:
                parts.append(f'"{w} {rng.choice(vocab)}"')
            elif roll < 0.4:
                parts.append("-" + w)
            elif roll < 0.5:
                parts.append("OR")
            else:
                parts.append(w)
        user_query = " ".join(parts)
        try:
            want = expected(user_query)
        except ValidationFailed:
            continue
        assert probe.search(user_query) == want, user_query


HOSTILE = [
    '"',
    "*",
    "NEAR(",
    "NEAR(a b, 3)",
    "OR OR",
    "OR",
    "AND",
    "NOT",
    "a OR OR b",
    "x " * 5000,
    "y" * 10_000,
    "'; DROP TABLE sessions; --",
    "1' OR '1'='1",
    '") OR 1=1 --',
    "body:*",
    "^a",
    "a:*",
    "!a",
    "a & b | c",
    "a <-> b",
    "\\",
    "\x00",
    "'",
    "''",
    "-",
    "--",
    "-*",
    '-"',
    '""',
    '" "',
    "(",
    ")",
    "{}",
    "+",
    "a + b",
    "col : val",
    "%",
    "_",
    "%_%",
    "\u202e",
    "\ufeff",
    "😀",
    "a😀b",
]


@pytest.mark.parametrize("user_query", HOSTILE)
def test_hostile_queries_give_results_or_a_validation_error(probe: Probe, user_query: str):
    try:
        want = expected(user_query)
    except ValidationFailed as e:
        assert e.status_code == 422 and e.message
        return
    assert probe.search(user_query) == want


def test_more_occurrences_rank_higher(probe: Probe):
    ranked = probe.ranked("salary")
    assert ranked[0] == 21  # "salary salary salary review"
    assert set(ranked) == {0, 21}
