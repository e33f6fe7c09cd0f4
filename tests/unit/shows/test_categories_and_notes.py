"""Apple's categories, and show notes sanitised to a safe subset of HTML."""

from __future__ import annotations

import pytest

from tapeworks.errors import ValidationFailed
from tapeworks.shows.categories import APPLE_CATEGORIES, validate_category
from tapeworks.shows.notes import notes_text, sanitise_notes, xml_safe


def test_the_list_is_apples() -> None:
    assert len(APPLE_CATEGORIES) == 19
    assert APPLE_CATEGORIES["Technology"] == ()
    assert "Mental Health" in APPLE_CATEGORIES["Health & Fitness"]
    assert sum(len(v) for v in APPLE_CATEGORIES.values()) == 91


def test_valid_categories_come_back_canonical() -> None:
    assert validate_category("Health & Fitness", "Mental Health") == (
        "Health & Fitness", "Mental Health")
    assert validate_category("  health  &  fitness ", "mental health") == (
        "Health & Fitness", "Mental Health")
    assert validate_category("True Crime") == ("True Crime", None)
    assert validate_category("Technology", "  ") == ("Technology", None)


@pytest.mark.parametrize(
    ("category", "subcategory", "field", "words"),
    [
        ("Podcasting", None, "category", "not an Apple Podcasts category"),
        ("", None, "category", "required"),
        ("Health & Fitness", "Running", "subcategory", "not a subcategory of 'Health & Fitness'"),
        ("Technology", "Gadgets", "subcategory", "has no subcategories"),
    ],
)
def test_invalid_categories_name_the_problem(category, subcategory, field, words) -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_category(category, subcategory)
    assert info.value.details["field"] == field
    assert words in info.value.message


def test_notes_keep_the_safe_subset() -> None:
    html = ('<p>Hello <strong>there</strong>, <em>see</em> '
            '<a href="https://example.org/x?a=1&amp;b=2" title="t">this</a></p>'
            "<ul><li>one</li><li>two</li></ul><ol><li>x</li></ol><br><blockquote>q</blockquote>")
    out = sanitise_notes(html)
    for piece in ("<p>", "<strong>there</strong>", "<em>see</em>", "<ul><li>one</li>",
                  "<ol>", "<br>", "<blockquote>q</blockquote>",
                  'href="https://example.org/x?a=1&amp;b=2"',
                  'rel="noopener noreferrer nofollow"'):
        assert piece in out, piece


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        '<p onclick="alert(1)" style="color:red">x</p>',
        "<iframe src='https://evil.example'></iframe>",
        "<style>body{display:none}</style>",
        "<!-- comment --><svg onload=alert(1)>",
        "<object data=x></object><form action=x><input></form>",
    ],
)
def test_notes_remove_everything_dangerous(attack: str) -> None:
    out = sanitise_notes("<p>ok</p>" + attack).lower()
    for bad in ("<script", "onerror", "javascript:", "data:", "onclick", "style", "<iframe",
                "<img", "<svg", "<!--", "<object", "<form", "<input", "alert(1)</script"):
        assert bad not in out, (bad, out)
    assert "<p>ok</p>" in out


def test_plain_text_notes_become_paragraphs() -> None:
    out = sanitise_notes("Line one\nline two: 3 < 4 & 5 > 2\n\n\nSecond paragraph")
    assert out == "<p>Line one<br>line two: 3 &lt; 4 &amp; 5 &gt; 2</p><p>Second paragraph</p>"
    assert notes_text(out) == "Line one line two: 3 < 4 & 5 > 2 Second paragraph"


def test_notes_drop_characters_xml_cannot_carry() -> None:
    out = sanitise_notes("<p>a\x00b\x1bc\ud800d\x85e 🎙</p>")
    assert out == "<p>abcde 🎙</p>"
    assert xml_safe("tab\tnl\ncr\r") == "tab\tnl\ncr\r"
    assert sanitise_notes(None) == "" and sanitise_notes("   ") == ""
