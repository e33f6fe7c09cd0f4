"""Input types shared by every edge (API schemas, query parameters, form fields, services
that receive multipart fields): what the service accepts is stated in the type, so a wrong
value is a 422 naming the field before anything runs.

- `InputModel`: the base of request bodies; non-finite numbers (`NaN`, `Infinity`, `1e999`)
  are refused in every float field.
- `FiniteFloat`: a float that is a real number (for query parameters and nested values).
- `Title`, `Name`: free text shown back to people and put in headers and files: control
  characters (line breaks included) and bidirectional overrides removed, runs of white space
  collapsed, bounded length (`clean_text` does the same for values that arrive as form
  fields).
- `PageOffset`: the paging bound every list route uses (an offset past any real
  row count is refused instead of overflowing the database's integers).
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

# A page never starts further than this; more rows than this are not listed by offset.
MAX_OFFSET = 1_000_000_000
# No time in a recording is later than this (ten years of audio).
MAX_SECONDS = 10 * 365 * 24 * 3600.0

# Format characters that reorder or hide text (Trojan-Source style spoofing): removed like
# control characters. Other format characters (the zero-width joiner inside emoji) stay.
_INVISIBLE = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
# Line breaks and tabs of every kind become a space.
_BREAKS = frozenset("\t\n\r\x0b\x0c\x85\u2028\u2029")
_SPACES = re.compile(r"\s+")


def clean_text(value: str | None, max_length: int | None = None) -> str:
    """Text safe to show, store, and put in a header: NFC, no control characters (a line
    break or tab becomes a space), no bidirectional overrides, white space collapsed, trimmed,
    then cut to `max_length` characters."""
    text = unicodedata.normalize("NFC", value or "")
    text = "".join(
        " " if ch in _BREAKS else ch
        for ch in text
        if ch in _BREAKS
        or (ch not in _INVISIBLE and unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn"))
    )
    text = _SPACES.sub(" ", text).strip()
    return text[:max_length].rstrip() if max_length is not None else text


def _clean(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class InputModel(BaseModel):
    """Base of request bodies: `NaN` and infinities are refused in every float field."""

    model_config = ConfigDict(allow_inf_nan=False)


class StrictInput(InputModel):
    """A request body whose unknown fields are refused (settings groups: a misspelt key is
    a mistake the user wants to hear about)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


FiniteFloat = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_finite)]
# One line of text: control characters removed (no length of its own).
Line = Annotated[str, BeforeValidator(_clean)]
Title = Annotated[str, BeforeValidator(_clean), Field(max_length=300)]
Name = Annotated[str, BeforeValidator(_clean), Field(max_length=200)]

PageOffset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]

