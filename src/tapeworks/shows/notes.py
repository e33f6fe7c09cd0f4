"""Show notes: a safe subset of HTML (sanitised with nh3, the Ammonia sanitiser).

What podcast apps render in an episode description is roughly what Apple documents:
paragraphs, line breaks, lists, links and simple emphasis. Everything else is removed:
scripts and styles with their content, event handlers, ``javascript:`` and ``data:`` links,
images, iframes, comments. Links get ``rel="noopener noreferrer nofollow"``.

Plain text (no tags at all) is turned into paragraphs: a blank line starts a new one and
a single newline becomes ``<br>``, with ``<``, ``&`` and ``>`` escaped. Characters that XML
cannot carry (control characters, lone surrogates) are dropped before anything else.
"""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS: frozenset[str] = frozenset(
    {"p", "br", "a", "strong", "b", "em", "i", "u", "ul", "ol", "li", "blockquote", "code",
     "pre"}
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}}
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

# XML 1.0 Char minus the C1 controls: tab, newline and carriage return are the only
# control characters kept.
_NOT_XML = re.compile(
    "[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n+")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot contain (and without C1 controls)."""
    if text.isascii() and text.isprintable():  # the common case, checked in C
        return text
    return _NOT_XML.sub("", text)


def sanitise_notes(text: str | None) -> str:
    """Show notes as safe HTML; ``""`` for nothing."""
    if not text:
        return ""
    cleaned = xml_safe(text).replace("\r\n", "\n").replace("\r", "\n")
    if not _TAG.search(cleaned):
        paragraphs = [p.strip() for p in _BLANK_LINE.split(cleaned) if p.strip()]
        cleaned = "".join(
            "<p>" + "<br>".join(html.escape(line.strip(), quote=False)
                                for line in p.split("\n")) + "</p>"
            for p in paragraphs
        )
    return nh3.clean(
        cleaned,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()


def notes_text(notes_html: str) -> str:
    """The notes as plain text (tags removed, entities decoded, spaces collapsed)."""
    stripped = nh3.clean(notes_html.replace("<br>", "\n").replace("</p>", "\n"), tags=set())
    return " ".join(html.unescape(stripped).split())
