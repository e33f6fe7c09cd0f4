"""Ranking SQLite's candidates for a phrase: BM25 over the folded tokens the index stores.

FTS5's own ``bm25()`` weighs each phrase by how many rows of the whole table hold it, and it
counts them by reading every match: for a phrase of common words, every position list of
both words (100 ms for 2,000 half-hour sessions), whatever LIMIT the query has. The search
ranks only the newest `service.CANDIDATES` matches, so the weights here come from those
candidates (queries without a phrase keep ``bm25()``): a term found in few of them counts more. Lengths and term frequencies are the
candidates' own (``index_body`` text: folded tokens joined by spaces); a phrase counts
where its tokens stand in a row, a prefix where a token starts with it, as `matches` says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tapeworks.search.query import SearchQuery, Term

K1 = 1.2
B = 0.75


def _count(term: Term, tokens: Sequence[str]) -> int:
    if len(term.tokens) == 1:
        word = term.tokens[0]
        return sum(t.startswith(word) for t in tokens) if term.prefix else tokens.count(word)
    n = len(term.tokens)
    last = n - 1
    found = 0
    for i in range(len(tokens) - n + 1):
        for k, want in enumerate(term.tokens):
            have = tokens[i + k]
            if not (have.startswith(want) if (k == last and term.prefix) else have == want):
                break
        else:
            found += 1
    return found


def bm25(query: SearchQuery, bodies: Sequence[str]) -> list[float]:
    """One score per body (higher is better), for the query's wanted terms."""
    docs = [body.split() for body in bodies]
    if not docs:
        return []
    terms = query.positive_terms()
    counts = [[_count(t, d) for t in terms] for d in docs]
    n = len(docs)
    average = sum(len(d) for d in docs) / n or 1.0
    weights = []
    for j in range(len(terms)):
        df = sum(1 for row in counts if row[j])
        weights.append(math.log(1 + (n - df + 0.5) / (df + 0.5)))
    scores = []
    for d, row in zip(docs, counts, strict=True):
        norm = K1 * (1 - B + B * len(d) / average)
        scores.append(
            sum(w * tf * (K1 + 1) / (tf + norm) for w, tf in zip(weights, row, strict=True) if tf)
        )
    return scores
