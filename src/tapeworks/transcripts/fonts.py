"""Fonts for the PDF export, found at run time among the fonts installed on the machine.

A transcript can be in any language and a speaker's name in another, so the PDF embeds
Noto Sans (regular and bold) for Latin, Greek and Cyrillic, and Droid Sans Fallback, the
font Noto grew from, for Chinese (Traditional and Simplified), Japanese and Korean. They
come from the Debian packages ``fonts-noto-core`` and ``fonts-droid-fallback``
(`FONT_PACKAGES`; the Makefile installs them). The CJK font has TrueType outlines on
purpose: fpdf2 embeds those with the standard Identity-H encoding, which every PDF reader
and text extractor understands (Noto Sans CJK has CFF outlines, which fpdf2 embeds with a
custom CMap that e.g. pypdf cannot read back, and takes a second per face to load). Fonts are looked for in the ``fonts``
folders of the XDG data directories (``$XDG_DATA_HOME``, ``$XDG_DATA_DIRS``) and in
``TAPEWORKS_FONT_DIRS`` (``os.pathsep``-separated) when it is set. When they are missing the
export is refused with `FontsMissing`, which says what the operator must install.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from tapeworks.errors import ServiceUnavailable

FONT_PACKAGES = ("fonts-noto-core", "fonts-droid-fallback")
LATIN_REGULAR = "NotoSans-Regular.ttf"
LATIN_BOLD = "NotoSans-Bold.ttf"
CJK_REGULAR = "DroidSansFallbackFull.ttf"
# The XDG Base Directory specification's defaults when the variables are unset
_XDG_DATA_DIRS_DEFAULT = ("/usr/local/share", "/usr/share")


class FontsMissing(ServiceUnavailable):
    code = "pdf_fonts_missing"


@dataclass(frozen=True)
class FontFile:
    path: Path
    face: int = 0  # index of the face in a font collection (.ttc)


@dataclass(frozen=True)
class FontSet:
    regular: FontFile
    bold: FontFile
    cjk: FontFile  # no bold face: bold CJK text is set in the regular one


def font_dirs() -> list[Path]:
    dirs: list[Path] = []
    extra = os.environ.get("TAPEWORKS_FONT_DIRS", "")
    dirs += [Path(d) for d in extra.split(os.pathsep) if d]
    home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    dirs.append(Path(home) / "fonts")
    data_dirs = os.environ.get("XDG_DATA_DIRS", "").split(os.pathsep)
    for d in [d for d in data_dirs if d] or list(_XDG_DATA_DIRS_DEFAULT):
        dirs.append(Path(d) / "fonts")
    return dirs


def _find(name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        if not d.is_dir():
            continue
        direct = d / name
        if direct.is_file():
            return direct
        for hit in d.rglob(name):
            if hit.is_file():
                return hit
    return None


@functools.lru_cache(maxsize=8)
def _find_fonts(dirs: tuple[Path, ...]) -> FontSet:
    found = {name: _find(name, list(dirs))
             for name in (LATIN_REGULAR, LATIN_BOLD, CJK_REGULAR)}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise FontsMissing(
            "PDF export is not available on this server: the fonts it needs are not "
            f"installed (the operator can install the packages {' and '.join(FONT_PACKAGES)})",
            details={"packages": list(FONT_PACKAGES)},
        )
    paths = {name: path for name, path in found.items() if path is not None}
    return FontSet(
        regular=FontFile(paths[LATIN_REGULAR]),
        bold=FontFile(paths[LATIN_BOLD]),
        cjk=FontFile(paths[CJK_REGULAR]),
    )


@functools.lru_cache(maxsize=4)
def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


def covers(font: FontFile, text: str) -> bool:
    """Whether every visible character of ``text`` has a glyph in ``font``."""
    cmap = _cmap(font.path)
    return all(ord(ch) in cmap for ch in set(text) if not ch.isspace())


def find_fonts(dirs: list[Path] | None = None) -> FontSet:
    """The PDF fonts, or `FontsMissing` naming the packages to install."""
    return _find_fonts(tuple(dirs if dirs is not None else font_dirs()))
