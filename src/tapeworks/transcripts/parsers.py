"""Read SRT and WebVTT subtitles back into cues.

Used by the export round-trip tests and by subtitle imports. Tolerant of what real
files contain: a UTF-8 BOM, CRLF line ends, missing or non-numeric SRT indexes, VTT
headers with text, NOTE/STYLE/REGION blocks, cue settings, ``MM:SS.mmm`` times, voice
tags with classes (``<v.loud Anna>``), a missing ``</v>``, other inline tags, and HTML
entities. Multi-line cue text is joined with single spaces.

Speakers: in VTT from the first voice tag. In SRT from a ``Name: `` prefix; since any
text may contain a colon, pass ``speakers`` (the names you expect) to recognise only
those; without it a prefix counts as a speaker when it is short (at most 40 characters)
and holds no sentence punctuation.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?(?:\s+([^>]*))?>")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d[^>]*>")
_SRT_TAG = re.compile(r"</?(?:i|b|u|font)(?:\s[^>]*)?>", re.IGNORECASE)


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    speaker: str | None
    text: str
    identifier: str | None = None  # VTT cue id, SRT index
    lines: tuple[str, ...] = ()  # as displayed (exports); `text` is them joined by a space

    def key(self) -> tuple[int, int, str | None, str]:
        """Millisecond-exact comparison key (ignores the identifier)."""
        return (round(self.start * 1000), round(self.end * 1000), self.speaker, self.text)


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    millis = int(ms.ljust(3, "0"))
    total_ms = ((int(h or 0) * 60 + int(m)) * 60 + int(s)) * 1000 + millis
    return total_ms / 1000


def _blocks(text: str) -> list[list[str]]:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[list[str]] = []
    cur: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def _timing(lines: list[str]) -> tuple[int, float, float] | None:
    for i, line in enumerate(lines[:2]):
        m = _TIMING.match(line)
        if m:
            g = m.groups()
            return i, _seconds(*g[:4]), _seconds(*g[4:8])
    return None


def _join(lines: Iterable[str]) -> str:
    return " ".join(" ".join(line.split()) for line in lines if line.strip())


def srt_escape(text: str) -> str:
    """Text for an SRT file that `parse_srt` reads back unchanged: SRT has no escaping, but
    readers (ours included) drop <i>/<b>/<u>/<font> tags and decode HTML entities, so text
    that would be changed by that is written with &, < and > as entities."""
    if html.unescape(text) == text and not _SRT_TAG.search(text):
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_srt(text: str, *, speakers: Iterable[str] | None = None) -> list[Cue]:
    known = sorted({s for s in speakers or () if s}, key=len, reverse=True)
    cues: list[Cue] = []
    for block in _blocks(text):
        found = _timing(block)
        if found is None:
            continue
        i, start, end = found
        ident = block[0].strip() if i == 1 else None
        body = html.unescape(_SRT_TAG.sub("", _join(block[i + 1 :])))
        speaker, body = _split_speaker(body, known if speakers is not None else None)
        cues.append(Cue(start=start, end=end, speaker=speaker, text=body, identifier=ident))
    return cues


def _split_speaker(body: str, known: list[str] | None) -> tuple[str | None, str]:
    if known is not None:
        for name in known:
            if body.startswith(name + ": "):
                return name, body[len(name) + 2 :]
            if body == name + ":":
                return name, ""
        return None, body
    head, sep, rest = body.partition(": ")
    if sep and head and len(head) <= 40 and not re.search(r"[.!?\"“”]\s", head + " "):
        return head, rest
    return None, body


def parse_vtt(text: str) -> list[Cue]:
    blocks = _blocks(text)
    if not blocks or not blocks[0][0].lstrip("\ufeff").startswith("WEBVTT"):
        raise ValueError("not a WebVTT file: the first line must start with WEBVTT")
    cues: list[Cue] = []
    for block in blocks[1:]:
        if block[0].startswith(("NOTE", "STYLE", "REGION")) and "-->" not in block[0]:
            continue
        found = _timing(block)
        if found is None:
            continue
        i, start, end = found
        ident = block[0].strip() if i == 1 else None
        raw = _join(block[i + 1 :])
        m = _VOICE.search(raw)
        speaker = html.unescape(m.group(1).strip()) if m and m.group(1) else None
        body = html.unescape(_TAG.sub("", raw)).strip()
        cues.append(Cue(start=start, end=end, speaker=speaker or None, text=body, identifier=ident))
    return cues


def group_cues(cues: Iterable[Cue]) -> list[Cue]:
    """Join the parts of one segment back together.

    Our VTT export gives a segment's first cue the segment id and its continuation cues
    ``<segment id>#2``, ``#3``, ...; consecutive cues with such ids are merged (text
    joined with a space, start of the first, end of the last). Other cues stay as they are.
    """
    out: list[Cue] = []
    for cue in cues:
        base, sep, part = (cue.identifier or "").rpartition("#")
        if sep and part.isdigit() and out and out[-1].identifier == base:
            prev = out[-1]
            text = f"{prev.text} {cue.text}" if prev.text and cue.text else prev.text + cue.text
            out[-1] = Cue(prev.start, cue.end, prev.speaker, text, prev.identifier)
        else:
            out.append(cue)
    return out
