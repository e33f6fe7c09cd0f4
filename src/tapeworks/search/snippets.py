"""Snippets: the text around a hit with the matched words in ``<mark>``.

Made here rather than by the databases (FTS5 ``snippet()``, ``ts_headline``) so that they
are identical on both dialects and are cut from the original text (with its case, accents
and punctuation) while matching by the folded tokens. Everything outside and inside the
marks is HTML-escaped: a snippet is safe to put in a page as it is.
"""

from __future__ import annotations

import html

from tapeworks.search.query import SearchQuery
from tapeworks.search.text import Token, tokenize

SNIPPET_TOKENS = 32  # tokens shown around the first match in a long text
LEAD_TOKENS = 8  # of which before the first match
ELLIPSIS = "…"


def match_spans(tokens: list[Token], query: SearchQuery) -> list[tuple[int, int]]:
    """Token index ranges ``[i, j)`` matched by the query's positive terms, merged."""
    terms = query.positive_terms()
    hits: list[tuple[int, int]] = []
    for i in range(len(tokens)):
        for term in terms:
            if term.matches_at(tokens, i):
                hits.append((i, i + len(term.tokens)))
    hits.sort()
    merged: list[tuple[int, int]] = []
    for a, b in hits:
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def highlight(text: str, query: SearchQuery, *, max_tokens: int = SNIPPET_TOKENS) -> str:
    """HTML: ``text`` (or a window of it around the first match) with matches marked."""
    tokens = tokenize(text)
    spans = match_spans(tokens, query)
    lo_char, hi_char = 0, len(text)
    prefix = suffix = ""
    if len(tokens) > max_tokens:
        first = spans[0][0] if spans else 0
        lo_tok = max(0, min(first - LEAD_TOKENS, len(tokens) - max_tokens))
        hi_tok = min(len(tokens), lo_tok + max_tokens)
        if lo_tok > 0:
            lo_char = tokens[lo_tok].start
            prefix = ELLIPSIS
        if hi_tok < len(tokens):
            hi_char = tokens[hi_tok - 1].end
            suffix = ELLIPSIS
    out: list[str] = [prefix]
    pos = lo_char
    for a, b in spans:
        start, end = tokens[a].start, tokens[b - 1].end
        if start < lo_char or end > hi_char:
            continue
        if start < pos:  # tokens folded from one raw word share its span
            continue
        out.append(html.escape(text[pos:start]))
        out.append("<mark>" + html.escape(text[start:end]) + "</mark>")
        pos = end
    out.append(html.escape(text[pos:hi_char]))
    out.append(suffix)
    return "".join(out).strip()
