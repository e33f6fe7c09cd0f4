"""search: the pairs of adjacent words, for PostgreSQL's phrase searches

PostgreSQL only: `search_fts_pairs`, one row per search entry of two words or more, holds
without positions a lexeme per pair of adjacent words, ``left(md5(a || ' ' || b), 4)``
(`tapeworks.search.text.pair_lexeme` computes the same in Python), with a GIN index; a
phrase search finds its candidates there and is planned by how common its pairs are
(`tapeworks.search.query.to_pg_search`). The pairs of the existing entries are read from
their vectors' own positions, which is what the exact phrase test sees; `tapeworks search
reindex` rebuilds them from the text. Like `search_fts`, the table has no ORM model (the
drift check's one exception covers the `search_fts` prefix). Nothing changes on SQLite
(FTS5 keeps positions in its index).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 10:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = [
    "CREATE TABLE search_fts_pairs (entry_id BIGINT NOT NULL PRIMARY KEY "
    "REFERENCES search_entries (id) ON DELETE CASCADE, "
    "user_id VARCHAR(32) NOT NULL, pairs TSVECTOR NOT NULL)",
    "CREATE INDEX search_fts_pairs_pairs ON search_fts_pairs USING gin (pairs)",
]
FILL = """
INSERT INTO search_fts_pairs (entry_id, user_id, pairs)
SELECT f.entry_id, f.user_id, pairs FROM search_fts AS f, LATERAL (
    SELECT array_to_tsvector(array_agg(DISTINCT left(md5(w.lexeme || ' ' || w.next), 4))) AS pairs
    FROM (SELECT u.lexeme, u.pos, lead(u.lexeme) OVER o AS next, lead(u.pos) OVER o AS next_pos
          FROM (SELECT t.lexeme, unnest(t.positions) AS pos FROM unnest(f.vector) AS t) AS u
          WINDOW o AS (ORDER BY u.pos)) AS w
    WHERE w.next_pos = w.pos + 1) AS p
WHERE p.pairs IS NOT NULL
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for ddl in CREATE:
        op.execute(ddl)
    op.execute(FILL)
    op.execute("ANALYZE search_fts_pairs")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE search_fts_pairs")
