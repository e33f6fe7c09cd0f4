"""Apple Podcasts categories and subcategories, and their validation.

The list is Apple's (Podcasts Connect, "Apple Podcasts categories", 2019 revision, still
current). A show has one category and optionally one of its subcategories; in the feed
they become ``<itunes:category text="Category"><itunes:category text="Sub"/></itunes:category>``.
Names are matched exactly after trimming, or case-insensitively with the canonical
spelling returned, so "health & fitness" is stored as "Health & Fitness".
"""

from __future__ import annotations

from tapeworks.errors import ValidationFailed

APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": ("Careers", "Entrepreneurship", "Investing", "Management", "Marketing",
                 "Non-Profit"),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": ("Alternative Health", "Fitness", "Medicine", "Mental Health",
                         "Nutrition", "Sexuality"),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": ("Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
                "Home & Garden", "Video Games"),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": ("Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
             "Sports News", "Tech News"),
    "Religion & Spirituality": ("Buddhism", "Christianity", "Hinduism", "Islam", "Judaism",
                                "Religion", "Spirituality"),
    "Science": ("Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
                "Natural Sciences", "Nature", "Physics", "Social Sciences"),
    "Society & Culture": ("Documentary", "Personal Journals", "Philosophy", "Places & Travel",
                          "Relationships"),
    "Sports": ("Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf",
               "Hockey", "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball",
               "Wilderness", "Wrestling"),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews",
                  "TV Reviews"),
}


def _canonical(name: str, allowed: tuple[str, ...] | list[str]) -> str | None:
    wanted = " ".join(name.split())
    for candidate in allowed:
        if candidate == wanted:
            return candidate
    folded = wanted.casefold()
    for candidate in allowed:
        if candidate.casefold() == folded:
            return candidate
    return None


def validate_category(category: str, subcategory: str | None = None) -> tuple[str, str | None]:
    """Canonical ``(category, subcategory)`` or `ValidationFailed` naming what is wrong."""
    if not isinstance(category, str) or not category.strip():
        raise ValidationFailed(
            "category is required: choose one of Apple Podcasts' categories",
            details={"field": "category", "allowed": list(APPLE_CATEGORIES)},
        )
    found = _canonical(category, list(APPLE_CATEGORIES))
    if found is None:
        raise ValidationFailed(
            f"{category.strip()!r} is not an Apple Podcasts category; choose one of: "
            + ", ".join(APPLE_CATEGORIES),
            details={"field": "category", "allowed": list(APPLE_CATEGORIES)},
        )
    if subcategory is None or not str(subcategory).strip():
        return found, None
    subs = APPLE_CATEGORIES[found]
    if not subs:
        raise ValidationFailed(
            f"the category {found!r} has no subcategories; leave the subcategory empty",
            details={"field": "subcategory", "allowed": []},
        )
    sub = _canonical(str(subcategory), subs)
    if sub is None:
        raise ValidationFailed(
            f"{str(subcategory).strip()!r} is not a subcategory of {found!r}; choose one of: "
            + ", ".join(subs),
            details={"field": "subcategory", "allowed": list(subs)},
        )
    return found, sub
