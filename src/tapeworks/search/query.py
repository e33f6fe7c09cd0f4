"""The search query language: one parser, two compilers (SQLite FTS5 and PostgreSQL).

What a user may type (the same on both databases):

* ``promotion review``: words, all must match (in any order, in one segment, title or note);
* ``"a phrase"``: these words next to each other, in this order (a closing quote may be
  left out; a query word with a hyphen or apostrophe, ``follow-up``, is a phrase too);
* ``promot*``: a prefix (at least `MIN_PREFIX_CHARS` letters before the ``*``, except as the
  last word of a phrase: ``"pay r"*``);
* ``manager OR boss``: either word (``OR`` in capitals, between two terms);
* ``-salary`` / ``-"pay rise"``: must not match.

Anything else is treated as words: brackets, ``NEAR(``, column filters, SQL and other
punctuation only separate words, and an ``OR`` that has nothing on one side is the word
"or". Words are folded by `tapeworks.search.text` (case and accents, no stemming) exactly as
the index is. The compilers produce a *value*, bound as a parameter (``MATCH :q`` on SQLite,
``CAST(:q AS tsquery)`` on PostgreSQL), from quoted tokens that contain only letters and
digits, so no query can inject SQL or trip the database's own query parser. What the
parser cannot make sense of (no word at all, only exclusions, too long, too many terms)
is a `ValidationFailed` naming the problem: a 4xx, never a database error.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tapeworks.errors import ValidationFailed
from tapeworks.search.text import (
    Token,
    is_cjk,
    is_token_char,
    pair_lexeme,
    quote_lexeme,
    tokenize,
)

MAX_QUERY_CHARS = 500
MAX_TERMS = 16
MIN_PREFIX_CHARS = 2


@dataclass(frozen=True)
class Term:
    """One word (``tokens`` of length 1) or a phrase; ``prefix``: its last token is a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False

    def matches_at(self, tokens: list[Token], i: int) -> bool:
        """Whether this term matches the tokens starting at index ``i``."""
        n = len(self.tokens)
        if i + n > len(tokens):
            return False
        for k, want in enumerate(self.tokens):
            have = tokens[i + k].text
            last = k == n - 1
            if not (have.startswith(want) if (last and self.prefix) else have == want):
                return False
        return True


@dataclass(frozen=True)
class SearchQuery:
    """All ``groups`` must match (each group: any of its terms); no ``excluded`` term may."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()
    text: str = field(default="", compare=False)

    def positive_terms(self) -> list[Term]:
        return [t for g in self.groups for t in g]


# ---------------------------------------------------------------- parsing


@dataclass
class _Item:
    raw: str
    negated: bool = False
    prefix: bool = False
    is_or: bool = False


def _lex(text: str) -> list[_Item]:
    items: list[_Item] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        negated = False
        j = i
        while j < n and text[j] == "-":
            j += 1
        if j > i and j < n and not text[j].isspace():
            negated = True
            i = j
        elif j > i:  # dashes alone
            i = j
            continue
        if text[i] == '"':
            close = text.find('"', i + 1)
            end = n if close < 0 else close
            raw = text[i + 1 : end]
            i = n if close < 0 else close + 1
            prefix = False
            while i < n and text[i] == "*":
                prefix = True
                i += 1
            items.append(_Item(raw, negated=negated, prefix=prefix))
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != '"':
            j += 1
        raw = text[i:j]
        i = j
        if raw == "OR" and not negated:
            items.append(_Item(raw, is_or=True))
            continue
        stripped = raw.rstrip("*")
        # a prefix only when the * follows a letter or digit directly ("promot*", not "a:*")
        prefix = stripped != raw and bool(stripped) and is_token_char(stripped[-1])
        items.append(_Item(stripped, negated=negated, prefix=prefix))
    return items


def _term(item: _Item) -> Term | None:
    tokens = tokenize(item.raw)
    if not tokens:
        return None
    words = tuple(t.text for t in tokens)
    prefix = item.prefix
    if prefix:
        last = words[-1]
        if is_cjk(last[0]):
            prefix = False  # an ideograph is a whole token: nothing to complete
        elif len(words) == 1 and len(last) < MIN_PREFIX_CHARS:  # in a phrase, fine
            raise ValidationFailed(
                f"a prefix search needs at least {MIN_PREFIX_CHARS} letters before the *: "
                f"{item.raw}*",
                details={"field": "q"},
            )
    return Term(words, prefix)


def parse(text: str) -> SearchQuery:
    """Parse what the user typed; raise `ValidationFailed` when there is nothing to search."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed("type a word to search for", details={"field": "q"})
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationFailed(
            f"the search is too long: at most {MAX_QUERY_CHARS} characters",
            details={"field": "q", "max_chars": MAX_QUERY_CHARS},
        )
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    or_word = Term(("or",))

    def add_positive(term: Term) -> None:
        nonlocal pending_or
        if pending_or and groups:
            if term not in groups[-1]:
                groups[-1].append(term)
        elif [term] not in groups:
            groups.append([term])
        pending_or = False

    for item in _lex(text):
        if item.is_or:
            if groups and not pending_or:
                pending_or = True
            else:
                add_positive(or_word)
            continue
        term = _term(item)
        if term is None:
            continue
        if item.negated:
            if pending_or:  # "a OR -b": the OR has no second term
                add_positive(or_word)
            if term not in excluded:
                excluded.append(term)
        else:
            add_positive(term)
    if pending_or:
        add_positive(or_word)
    if not groups:
        message = (
            "a search needs at least one word to find, not only words to leave out"
            if excluded
            else "type a word to search for: the search has no letters or digits"
        )
        raise ValidationFailed(message, details={"field": "q"})
    count = sum(len(g) for g in groups) + len(excluded)
    if count > MAX_TERMS:
        raise ValidationFailed(
            f"the search has too many words: at most {MAX_TERMS}",
            details={"field": "q", "max_terms": MAX_TERMS},
        )
    return SearchQuery(tuple(tuple(g) for g in groups), tuple(excluded), text=text)


# ---------------------------------------------------------------- SQLite FTS5


def _fts5_term(term: Term) -> str:
    body = " ".join(term.tokens).replace('"', '""')
    return f'"{body}"' + (" *" if term.prefix else "")


def _fts5_any(terms: tuple[Term, ...]) -> str:
    if len(terms) == 1:
        return _fts5_term(terms[0])
    return "(" + " OR ".join(_fts5_term(t) for t in terms) + ")"


def to_fts5(query: SearchQuery) -> str:
    """An FTS5 MATCH expression (bind it: ``... MATCH :q``)."""
    positive = " AND ".join(_fts5_any(g) for g in query.groups)
    if not query.excluded:
        return positive
    return f"({positive}) NOT {_fts5_any(query.excluded)}"


# ---------------------------------------------------------------- PostgreSQL tsquery


def _ts_term(term: Term) -> str:
    parts = [quote_lexeme(tok) for tok in term.tokens]
    if term.prefix:
        parts[-1] += ":*"
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


def _ts_any(terms: tuple[Term, ...]) -> str:
    if len(terms) == 1:
        return _ts_term(terms[0])
    return "(" + " | ".join(_ts_term(t) for t in terms) + ")"


def to_tsquery(query: SearchQuery) -> str:
    """A PostgreSQL ``tsquery`` value in its text form (bind it: ``CAST(:q AS tsquery)``).

    Lexemes are quoted and already folded, so PostgreSQL applies no parser or dictionary
    to them: the query means exactly what `parse` made of it."""
    parts = [_ts_any(g) for g in query.groups]
    parts += [f"!{_ts_term(t)}" for t in query.excluded]
    return " & ".join(parts)


@dataclass(frozen=True)
class PgSearch:
    """How PostgreSQL runs a query. ``exact`` is the `to_tsquery` form: it decides and it
    ranks (`ts_rank_cd`). ``pairs``, when set, is implied by the query and is looked up in
    ``search_fts_pairs`` (see `tapeworks.search.text`): the pair lexemes of the query's
    wanted phrases, so its candidates come by the pairs' index and statistics."""

    exact: str
    pairs: str | None


def _pg_pairs_term(term: Term) -> str | None:
    """A phrase as the pairs of its adjacent whole words (a trailing prefix word pairs with
    nothing); None for a word, or a phrase of one whole word and a prefix."""
    whole = term.tokens[:-1] if term.prefix else term.tokens
    if len(whole) < 2:
        return None
    lexemes = dict.fromkeys(quote_lexeme(pair_lexeme(a, b)) for a, b in itertools.pairwise(whole))
    return " & ".join(lexemes) if len(lexemes) == 1 else "(" + " & ".join(lexemes) + ")"


def to_pg_search(query: SearchQuery) -> PgSearch:
    """The forms PostgreSQL runs (see `PgSearch`). A group becomes pairs only when each of
    its alternatives is a phrase with pairs; unwanted phrases never do (a row holding the
    pairs of an unwanted phrase may still lack the phrase)."""
    groups = []
    for group in query.groups:
        alts = [_pg_pairs_term(t) for t in group]
        if all(alts):
            unique = list(dict.fromkeys(a for a in alts if a))
            groups.append(unique[0] if len(unique) == 1 else "(" + " | ".join(unique) + ")")
    return PgSearch(exact=to_tsquery(query), pairs=" & ".join(groups) if groups else None)


# ---------------------------------------------------------------- reference semantics


def _has(term: Term, tokens: list[Token]) -> bool:
    return any(term.matches_at(tokens, i) for i in range(len(tokens)))


def matches(query: SearchQuery, text: str) -> bool:
    """Whether ``text`` matches ``query``: what both compiled forms mean, in plain Python
    (the tests hold the databases to it)."""
    tokens = tokenize(text)
    return all(any(_has(t, tokens) for t in g) for g in query.groups) and not any(
        _has(t, tokens) for t in query.excluded
    )
