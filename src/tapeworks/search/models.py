"""What search finds: one row per transcript segment, session title and note.

`SearchEntry` is an ordinary table (the model is its one schema source). The full-text
index beside it, ``search_fts``, is made by the migrations only and differs per dialect;
it is the one documented exception in the drift test (its rows are keyed by
``search_entries.id`` and disappear with them):

* SQLite: an FTS5 table ``search_fts(body)`` whose ``rowid`` is the entry id, tokenizer
  ``unicode61 remove_diacritics 0`` (the text is folded by us first) with prefix indexes
  for 2 and 3 characters, and a trigger that deletes an entry's index row with the entry
  (including deletes cascaded from its session);
* PostgreSQL: ``search_fts(entry_id, user_id, vector tsvector)`` with a GIN index (the
  user id is copied so the candidate scan filters without a join), ``ON DELETE
  CASCADE`` from the entry; the vector is exact (`tapeworks.search.text.tsvector_literal`);
  beside it ``search_fts_pairs(entry_id, user_id, pairs tsvector)``, GIN-indexed, the pairs
  of adjacent words that phrase searches narrow by (`tapeworks.search.text.pairs_literal`),
  cascading from the entry the same way.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tapeworks.db.base import Base, check_in

ENTRY_KINDS = ("transcript", "title", "note")
FTS_TABLE = "search_fts"


class SearchEntry(Base):
    __tablename__ = "search_entries"
    __table_args__ = (
        CheckConstraint(check_in("kind", ENTRY_KINDS), name="kind"),
        Index("ix_search_entries_session_kind", "session_id", "kind"),
    )

    # an integer key: FTS5 rows are keyed by integers
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    session_id: Mapped[str] = mapped_column(String(32),
                                            ForeignKey("sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    segment_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    start: Mapped[float | None] = mapped_column(Float, nullable=True)
    end: Mapped[float | None] = mapped_column(Float, nullable=True)
    speaker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    text: Mapped[str] = mapped_column(Text)
