"""The search query language: parsing, folding, both compiled forms and snippets."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeworks.errors import ValidationFailed
from tapeworks.search.query import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    SearchQuery,
    Term,
    matches,
    parse,
    to_fts5,
    to_pg_search,
    to_tsquery,
)
from tapeworks.search.rank import bm25
from tapeworks.search.snippets import highlight
from tapeworks.search.text import (
    fold,
    index_body,
    pair_lexeme,
    pairs_literal,
    tokenize,
    tsvector_literal,
    words,
)


def terms(q: SearchQuery) -> list[list[tuple[tuple[str, ...], bool]]]:
    return [[(t.tokens, t.prefix) for t in g] for g in q.groups]


# ---------------------------------------------------------------- folding and tokens


def test_folding_removes_case_width_and_accents_but_not_stems():
    assert fold("Straße") == "strasse"
    assert fold("ＡＢＣ") == "abc"
    assert words("Café Ünal Łukasiewicz Søren") == ["cafe", "unal", "lukasiewicz", "soren"]
    assert words("Ελληνικά άλφα") == ["ελληνικα", "αλφα"]
    assert words("Привет, йогурт!") == ["привет", "иогурт"]
    assert words("promotion promoted") == ["promotion", "promoted"]


def test_apostrophes_and_hyphens_separate_words():
    assert words("don't follow-up e-mail") == ["don", "t", "follow", "up", "e", "mail"]


def test_each_ideograph_is_a_token_and_spans_point_into_the_original():
    text = "我想升职。OK"
    toks = tokenize(text)
    assert [t.text for t in toks] == ["我", "想", "升", "职", "ok"]
    assert [text[t.start : t.end] for t in toks] == ["我", "想", "升", "职", "OK"]


def test_folding_that_creates_a_separator_splits_the_word():
    assert words("½") == ["1", "2"]


def test_long_tokens_are_cut():
    assert words("x" * 500) == ["x" * 64]


def test_index_body_and_tsvector_literal():
    assert index_body("Hello, World! hello") == "hello world hello"
    assert tsvector_literal(["hello", "world", "hello"]) == "'hello':1,3 'world':2"
    assert tsvector_literal(["it's"]) == "'it''s':1"
    assert tsvector_literal(["a\\b"]) == "'a\\\\b':1"


# ---------------------------------------------------------------- parsing


def test_words_all_must_match():
    q = parse("Promotion  review")
    assert terms(q) == [[(("promotion",), False)], [(("review",), False)]]
    assert to_fts5(q) == '"promotion" AND "review"'
    assert to_tsquery(q) == "'promotion' & 'review'"


def test_phrase_prefix_or_and_exclusion():
    q = parse('"pay rise" promot* manager OR boss -salary -"bonus scheme"')
    assert terms(q) == [
        [(("pay", "rise"), False)],
        [(("promot",), True)],
        [(("manager",), False), (("boss",), False)],
    ]
    assert [t.tokens for t in q.excluded] == [("salary",), ("bonus", "scheme")]
    assert to_fts5(q) == (
        '("pay rise" AND "promot" * AND ("manager" OR "boss")) NOT ("salary" OR "bonus scheme")'
    )
    assert to_tsquery(q) == (
        "('pay' <-> 'rise') & 'promot':* & ('manager' | 'boss') "
        "& !'salary' & !('bonus' <-> 'scheme')"
    )


def test_unclosed_quote_is_a_phrase_to_the_end():
    assert terms(parse('"pay rise')) == [[(("pay", "rise"), False)]]


def test_hyphenated_word_and_chinese_run_are_phrases():
    assert terms(parse("follow-up")) == [[(("follow", "up"), False)]]
    assert terms(parse("升职")) == [[(("升", "职"), False)]]
    assert terms(parse("升*")) == [[(("升",), False)]]


def test_lowercase_or_is_a_word_and_dangling_or_is_the_word_or():
    assert terms(parse("this or that")) == [
        [(("this",), False)],
        [(("or",), False)],
        [(("that",), False)],
    ]
    assert terms(parse("OR OR")) == [[(("or",), False)]]
    assert terms(parse("OR a")) == [[(("or",), False)], [(("a",), False)]]
    assert terms(parse("a OR")) == [[(("a",), False), (("or",), False)]]


@pytest.mark.parametrize(
    "hostile",
    [
        "NEAR(a b)",
        "a NOT b",
        "a AND b",
        "title:secret",
        "'; DROP TABLE sessions; --",
        "a) OR (b",
        "^start",
        "{col1 col2}: x",
        "x + y",
        "a:* & !b",
        "' OR 1=1 --",
        "\\'a",
        "a''b",
        'a"b"c',
        "a<->b",
        "\x00a\x01b",
    ],
)
def test_hostile_queries_become_quoted_words(hostile):
    q = parse(hostile)
    for term in q.positive_terms() + list(q.excluded):
        for tok in term.tokens:
            assert all(ch.isalnum() for ch in tok), tok


@pytest.mark.parametrize(
    "query,message",
    [
        ('"', "type a word"),
        ("*", "type a word"),
        ("-", "type a word"),
        ("   ", "type a word"),
        ("()", "type a word"),
        ("-salary", "not only words to leave out"),
        ("a*", "at least 2 letters"),
        ("x" * (MAX_QUERY_CHARS + 1), "too long"),
        (" ".join(f"w{i}" for i in range(MAX_TERMS + 1)), "too many words"),
    ],
)
def test_queries_with_nothing_to_search_are_validation_errors(query, message):
    with pytest.raises(ValidationFailed) as e:
        parse(query)
    assert message in e.value.message
    assert e.value.status_code == 422


@given(st.text(max_size=200))
def test_any_text_parses_or_is_a_validation_error(text):
    try:
        q = parse(text)
    except ValidationFailed:
        return
    assert q.groups
    fts, tsq = to_fts5(q), to_tsquery(q)
    # every token sits inside quotes: nothing of the user's reaches the query syntax raw
    for term in q.positive_terms() + list(q.excluded):
        for tok in term.tokens:
            assert tok and all(unicodedata.category(ch)[0] in "LNM" for ch in tok)
    assert fts and tsq


# ---------------------------------------------------------------- reference semantics


def test_matches_is_what_the_query_means():
    text = "We talked about the promotion and the pay rise, not the salary."
    assert matches(parse("promotion salary"), text)
    assert matches(parse('"pay rise"'), text)
    assert not matches(parse('"rise pay"'), text)
    assert matches(parse("promot*"), text)
    assert not matches(parse("promotion -salary"), text)
    assert matches(parse("bonus OR salary"), text)
    assert not matches(parse("bonus OR holiday"), text)
    assert matches(parse("PROMOTION"), text)


def test_matching_ignores_accents_both_ways():
    assert matches(parse("cafe"), "Un café, s'il vous plaît")
    assert matches(parse("café"), "the cafe on the corner")
    assert matches(parse("αλφα"), "Άλφα και ωμέγα")


# ---------------------------------------------------------------- snippets


def test_snippet_marks_the_matched_words_in_the_original_text():
    s = highlight("Her Promotion came through; the pay rise too.", parse('promotion "pay rise"'))
    assert s == "Her <mark>Promotion</mark> came through; the <mark>pay rise</mark> too."


def test_snippet_escapes_html_around_and_inside_marks():
    s = highlight("<b>Tom & Jerry</b> said <script>", parse("tom script"))
    assert s == "&lt;b&gt;<mark>Tom</mark> &amp; Jerry&lt;/b&gt; said &lt;<mark>script</mark>&gt;"


def test_snippet_of_a_long_text_is_a_window_around_the_first_match():
    text = (
        " ".join(f"w{i}" for i in range(100))
        + " promotion "
        + " ".join(f"v{i}" for i in range(100))
    )
    s = highlight(text, parse("promotion"))
    assert s.startswith("…w92 ") and s.endswith("…")
    assert "<mark>promotion</mark>" in s
    assert len(s.split()) == 32


def test_snippet_marks_prefixes_accents_and_ideographs():
    assert highlight("Le café", parse("cafe")) == "Le <mark>café</mark>"
    assert highlight("promoted twice", parse("promot*")) == "<mark>promoted</mark> twice"
    assert highlight("我想升职。", parse("升职")) == "我想<mark>升职</mark>。"


def test_snippet_without_a_match_is_the_escaped_text():
    assert highlight("a < b", parse("zzz")) == "a &lt; b"


def test_term_matching_at_the_end_of_the_tokens():
    toks = tokenize("pay")
    assert not Term(("pay", "rise")).matches_at(toks, 0)


# ---------------------------------------------------------------- PostgreSQL pair lexemes


def test_pairs_literal_has_each_pair_of_adjacent_tokens_once_without_positions():
    assert pair_lexeme("pay", "rise") == hashlib.md5(b"pay rise").hexdigest()[:4]
    assert pairs_literal(["pay", "rise", "pay", "rise"]) == " ".join(
        sorted({pair_lexeme("pay", "rise"), pair_lexeme("rise", "pay")})
    )
    assert pairs_literal(["solo"]) == ""


def test_pg_search_narrows_by_pairs_only_where_the_query_implies_them():
    words_only = to_pg_search(parse("promot* manager OR boss -salary"))
    assert words_only.pairs is None
    assert words_only.exact == to_tsquery(parse("promot* manager OR boss -salary"))
    q = '"pay rise review" promot* "a b" OR "c d" -"pay cut"'
    s = to_pg_search(parse(q))
    assert s.exact == to_tsquery(parse(q))
    ab, cd = pair_lexeme("a", "b"), pair_lexeme("c", "d")
    pr, rr = pair_lexeme("pay", "rise"), pair_lexeme("rise", "review")
    assert s.pairs == f"('{pr}' & '{rr}') & ('{ab}' | '{cd}')"
    # a phrase OR a word, a phrase of a word and a prefix: nothing the pairs could promise
    assert to_pg_search(parse('"a b" OR c')).pairs is None
    assert to_pg_search(parse('"pay r"*')).pairs is None
    assert to_pg_search(parse('"pay rise r"*')).pairs == f"'{pr}'"


# ---------------------------------------------------------------- ranking SQLite's phrases


def test_bm25_over_candidates_ranks_more_and_rarer_matches_higher():
    q = parse('"pay rise" review')
    bodies = [
        "pay rise pay rise review",
        "pay rise review",
        "pay rise review and more words here",
        "rise pay review",
    ]
    scores = bm25(q, bodies)
    assert scores[0] > scores[1] > scores[2] > scores[3] > 0  # the last: "review" only
    # a term in fewer candidates weighs more
    rare = bm25(parse('"pay rise" OR bonus'), ["pay rise", "bonus", "pay rise", "pay rise"])
    assert rare[1] > rare[0] == rare[2]
    prefix = bm25(parse('"pay r"*'), ["pay rise", "pay review pay rate", "rise pay"])
    assert prefix[1] > prefix[0] > prefix[2] == 0
