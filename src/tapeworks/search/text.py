"""Text as the search index sees it: one folding rule and one tokenizer for both databases.

The rule (the same on SQLite and PostgreSQL, because we apply it ourselves, in Python, when
indexing and when querying; the databases only see the result):

* **Case and width**: Unicode NFKC, then full case folding (``Straße`` = ``strasse``,
  full-width ``ＡＢＣ`` = ``abc``).
* **Accents**: removed. Letters are decomposed (NFD) and combining diacritical marks are
  dropped (``é`` = ``e``, ``ά`` = ``α``, ``й`` = ``и``), plus a few letters that carry their
  mark inside them (``ł ø đ ħ ı æ œ þ ð``). Other marks (Indic vowel signs) are kept: they are
  part of the word, not an accent.
* **No stemming, no stop words**: ``promotion`` does not find ``promoted``; ``promot*`` does.
  Every word counts, in every language, which stemming per language could not promise.
* **Tokens**: runs of letters, digits and marks; everything else separates words,
  apostrophes and hyphens included (``don't`` is ``don`` ``t``, a query ``follow-up`` is the
  phrase ``follow up``). Chinese and Japanese are written without spaces, so each Han
  ideograph and kana is a token of its own, and a run of them in a query is a phrase.
  A token longer than `MAX_TOKEN_CHARS` is cut to that length.

The index stores the folded tokens joined by single spaces (`index_body`): SQLite's FTS5
(``unicode61``, diacritics left alone since there are none left) and PostgreSQL (an exact
``tsvector`` built from the same tokens, `tsvector_literal`) then agree token for token.

PostgreSQL's GIN index keeps no word positions, so a phrase is found there by its words and
then checked row by row, and the planner guesses a phrase as often as its words together:
far too often for a rare phrase of common words, which then scanned most of the index. So
PostgreSQL also keeps, per entry, the *pairs* of adjacent tokens (`pairs_literal`: each pair
as the first four hex digits of the MD5 of the two tokens, no positions) in a table of
their own, ``search_fts_pairs``, whose rows only phrase searches read: a phrase narrows to
the rows holding all its pairs (a few false friends per 65,536 buckets, removed by the
exact test), and the planner's lexeme statistics say how common a pair is.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from dataclasses import dataclass

MAX_TOKEN_CHARS = 64
# PostgreSQL keeps positions up to 16383 and at most 256 of them per lexeme
MAX_TSVECTOR_POSITION = 16383
MAX_POSITIONS_PER_LEXEME = 256

# Letters that carry their mark inside them (no Unicode decomposition)
_EXTRA_FOLDS = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ħ": "h",
        "ı": "i",
        "ŀ": "l",
        "ŧ": "t",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ð": "d",
    }
)
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_CHUNK = re.compile(r"\S+")


def _is_diacritic(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x0300 <= cp <= 0x036F
        or 0x1AB0 <= cp <= 0x1AFF
        or 0x1DC0 <= cp <= 0x1DFF
        or 0x20D0 <= cp <= 0x20FF
        or 0xFE20 <= cp <= 0xFE2F
    )


def is_cjk(ch: str) -> bool:
    """Han ideographs and kana (letters only): written without spaces, one token each."""
    cp = ord(ch)
    return unicodedata.category(ch)[0] == "L" and (
        0x3040 <= cp <= 0x30FF  # hiragana, katakana
        or 0x3400 <= cp <= 0x4DBF  # CJK extension A
        or 0x4E00 <= cp <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= cp <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= cp <= 0x3FFFF  # extensions B and later
    )


def is_token_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNM"


def fold(text: str) -> str:
    """The folding rule (case, width, accents) applied to any text."""
    if text.isascii():
        return text.lower()
    s = unicodedata.normalize("NFKC", text).casefold().translate(_EXTRA_FOLDS)
    s = "".join(ch for ch in unicodedata.normalize("NFD", s) if not _is_diacritic(ch))
    return unicodedata.normalize("NFC", s)


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # folded
    start: int  # span in the original text
    end: int


def _split_folded(folded: str) -> list[str]:
    """Folding can create separators or ideographs (``½`` -> ``1⁄2``): split again."""
    if folded.isascii() and folded.isalnum():
        return [folded]
    parts: list[str] = []
    run: list[str] = []
    for ch in folded:
        if is_cjk(ch):
            if run:
                parts.append("".join(run))
                run = []
            parts.append(ch)
        elif is_token_char(ch):
            run.append(ch)
        elif run:
            parts.append("".join(run))
            run = []
    if run:
        parts.append("".join(run))
    return parts


def _emit(raw: str, start: int, out: list[Token]) -> None:
    for part in _split_folded(fold(raw)):
        out.append(Token(part[:MAX_TOKEN_CHARS], start, start + len(raw)))


def _scan(chunk: str, base: int, out: list[Token]) -> None:
    run_start = -1
    for i, ch in enumerate(chunk):
        if is_cjk(ch):
            if run_start >= 0:
                _emit(chunk[run_start:i], base + run_start, out)
                run_start = -1
            _emit(ch, base + i, out)
        elif is_token_char(ch):
            if run_start < 0:
                run_start = i
        elif run_start >= 0:
            _emit(chunk[run_start:i], base + run_start, out)
            run_start = -1
    if run_start >= 0:
        _emit(chunk[run_start:], base + run_start, out)


def tokenize(text: str) -> list[Token]:
    """The folded tokens of ``text``, each with its span in ``text``."""
    out: list[Token] = []
    for m in _CHUNK.finditer(text):
        chunk, base = m.group(), m.start()
        if chunk.isascii():
            if chunk.isalnum():
                out.append(Token(chunk.lower()[:MAX_TOKEN_CHARS], base, base + len(chunk)))
            else:
                for w in _ASCII_WORD.finditer(chunk):
                    out.append(
                        Token(w.group().lower()[:MAX_TOKEN_CHARS], base + w.start(), base + w.end())
                    )
        else:
            _scan(chunk, base, out)
    return out


def words(text: str) -> list[str]:
    """Just the folded tokens."""
    return [t.text for t in tokenize(text)]


def index_body(text: str) -> str:
    """What the full-text table stores for ``text``: folded tokens joined by spaces."""
    return " ".join(words(text))


def quote_lexeme(token: str) -> str:
    """A token as a quoted PostgreSQL tsvector/tsquery lexeme."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: list[str]) -> str:
    """An exact PostgreSQL ``tsvector`` value (text form) for these tokens, with positions,
    so PostgreSQL's own parser and dictionaries never re-tokenize what we folded."""
    positions: dict[str, list[int]] = {}
    for n, tok in enumerate(tokens, start=1):
        seen = positions.setdefault(tok, [])
        if len(seen) < MAX_POSITIONS_PER_LEXEME:
            seen.append(min(n, MAX_TSVECTOR_POSITION))
    return " ".join(
        f"{quote_lexeme(tok)}:{','.join(map(str, sorted(set(pos))))}"
        for tok, pos in positions.items()
    )


def pair_lexeme(first: str, second: str) -> str:
    """The lexeme standing for ``first`` followed by ``second`` (two folded tokens). The
    migration that made the pairs computes the same in SQL: ``left(md5(a || ' ' || b), 4)``."""
    return hashlib.md5(f"{first} {second}".encode(), usedforsecurity=False).hexdigest()[:4]


def pairs_literal(tokens: list[str]) -> str:
    """What ``search_fts_pairs.pairs`` stores for these tokens: the `pair_lexeme` of every
    pair of adjacent tokens, once each, without positions (empty for fewer than two)."""
    return " ".join(sorted({pair_lexeme(a, b) for a, b in itertools.pairwise(tokens)}))
