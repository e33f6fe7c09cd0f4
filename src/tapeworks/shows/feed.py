"""The podcast feed: RSS 2.0 with the ``itunes``, ``podcast``, ``atom`` and ``content``
namespaces, written from plain dataclasses.

Input is a `FeedShow` and its visible `FeedItem`s (the caller decides what is visible:
published, ``publish_at`` passed); output is the UTF-8 document as bytes. Nothing here
touches the database, the store or the clock.

Every text and attribute value is escaped (``&``, ``<``, ``>``, and in attributes quotes,
tabs and newlines) after `xml_safe` drops what XML 1.0 cannot carry (control characters,
lone surrogates), so titles with ``<``, ``&``, ``]]>``, emoji or control characters, and
megabyte-long notes, still give a well-formed document (a property test parses it).
Show notes are sanitised HTML (`tapeworks.shows.notes`) and go, escaped, in ``description``
and ``content:encoded``.

What goes where (Apple Podcasts, Podcasting 2.0 namespace 1.0):

* channel: ``atom:link rel="self"``, ``title``, ``link``, ``language``, ``description``,
  ``copyright``, ``generator``, ``lastBuildDate``, ``image`` and ``itunes:image`` (when the
  show has artwork), ``itunes:category`` (with its subcategory), ``itunes:explicit``
  (``true``/``false``), ``itunes:author``, ``itunes:owner`` (name, email), ``itunes:type``,
  ``itunes:block`` for a private show, ``podcast:guid``, ``podcast:locked``;
* item, newest first: ``title``, ``itunes:title``, ``description``, ``content:encoded``,
  ``guid isPermaLink="false"``, ``enclosure`` (url, exact byte length, MIME type),
  ``pubDate`` (RFC 2822, GMT), ``itunes:duration`` (whole seconds), ``itunes:explicit``,
  ``itunes:season``/``itunes:episode``/``itunes:episodeType`` when set,
  ``podcast:transcript`` (one per format), ``podcast:chapters``, ``podcast:person``.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from tapeworks.shows.chapters import CHAPTERS_MEDIA_TYPE
from tapeworks.shows.notes import xml_safe
from tapeworks.transcripts.model import Transcript

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
NSMAP = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": ATOM_NS, "content": CONTENT_NS}
# The Podcast Index namespace for `podcast:guid` (UUIDv5 of the feed URL without scheme).
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
FEED_MEDIA_TYPE = "application/rss+xml"
GENERATOR = "tapeworks"

SHOW_TYPES: tuple[str, ...] = ("episodic", "serial")
EPISODE_TYPES: tuple[str, ...] = ("full", "trailer", "bonus")
PERSON_ROLES: tuple[str, ...] = ("host", "guest")
# Our speaker roles -> the Podcast Taxonomy's roles for `podcast:person`.
_ROLE_TO_PERSON = {"host": "host", "coach": "host", "guest": "guest", "client": "guest"}
_AUTO_SPEAKER_NAME = re.compile(r"^(speaker|spk)[ _-]?\d+$", re.IGNORECASE)

def podcast_guid(feed_url: str) -> str:
    """The Podcasting 2.0 ``podcast:guid`` of a feed URL: UUIDv5 in the Podcast Index
    namespace of the URL with its scheme (``https://``) and trailing slashes removed."""
    bare = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", feed_url.strip()).rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def rfc2822(when: datetime) -> str:
    """``Tue, 02 Jun 2026 14:00:00 GMT``; a naive time is taken as UTC."""
    return format_datetime(_utc(when), usegmt=True)


@dataclass(frozen=True)
class Person:
    name: str
    role: str = "guest"  # one of PERSON_ROLES
    href: str | None = None
    img: str | None = None


@dataclass(frozen=True)
class TranscriptLink:
    url: str
    media_type: str  # text/vtt, application/x-subrip, application/json
    language: str | None = None
    captions: bool = False  # rel="captions": timed cues a player can show as captions


@dataclass(frozen=True)
class Enclosure:
    url: str
    length: int  # exact bytes of the file served at url
    media_type: str  # audio/mpeg, audio/mp4, ...


@dataclass(frozen=True)
class FeedItem:
    guid: str
    title: str
    enclosure: Enclosure
    published_at: datetime
    duration_seconds: float
    notes_html: str = ""  # already sanitised (tapeworks.shows.notes.sanitise_notes)
    link: str | None = None
    explicit: bool | None = None  # None: the show's setting applies
    season: int | None = None
    number: int | None = None
    episode_type: str = "full"  # one of EPISODE_TYPES
    transcripts: tuple[TranscriptLink, ...] = ()
    chapters_url: str | None = None
    persons: tuple[Person, ...] = ()
    image_url: str | None = None


@dataclass(frozen=True)
class FeedShow:
    title: str
    description: str
    language: str
    feed_url: str  # the absolute URL this document is served at (atom:link rel="self")
    podcast_guid: str
    category: str
    subcategory: str | None = None
    link: str | None = None
    explicit: bool = False
    author: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None
    copyright: str | None = None
    type: str = "episodic"  # one of SHOW_TYPES
    locked: bool = True
    private: bool = False
    image_url: str | None = None
    built_at: datetime | None = None  # lastBuildDate; the newest item's date when None
    extra_persons: tuple[Person, ...] = field(default=())


def _text(value: str | None) -> str:
    """Single-line text: XML-safe, whitespace collapsed."""
    return " ".join(xml_safe(value or "").split())


def _escape(text: str) -> str:
    text = xml_safe(text)
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if "\r" in text:  # a parser would turn a bare CR into LF
        text = text.replace("\r", "&#13;")
    return text


_ATTR_SPECIAL = re.compile('[&<>"\t\n\r]')
_ATTR_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;",
                  "\n": "&#10;", "\r": "&#13;"}


def _attr(text: str) -> str:
    text = xml_safe(text)
    if _ATTR_SPECIAL.search(text):
        text = _ATTR_SPECIAL.sub(lambda m: _ATTR_ENTITIES[m.group()], text)
    return text


def feed_attr(text: str) -> str:
    """``text`` escaped for an attribute value, as every link in the feed is."""
    return _attr(text)


class _Xml:
    """A streaming XML writer: every text and attribute value goes through `_escape` or
    `_attr`, tags are our own constants. (Five times faster than building an lxml tree
    for a 1,000-item feed, and the tests parse every document it writes.)"""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.depth = 0

    def _start(self, tag: str, attrs: dict[str, str]) -> str:
        head = "  " * self.depth + "<" + tag
        for k, v in attrs.items():
            head += f' {k}="{_attr(v)}"'
        return head

    def leaf(self, tag: str, content: str | None = None, /, **attrs: str) -> None:
        head = self._start(tag, attrs)
        if content:
            self.parts.append(f"{head}>{_escape(content)}</{tag}>\n")
        else:
            self.parts.append(f"{head}/>\n")

    def open(self, tag: str, /, **attrs: str) -> None:
        self.parts.append(self._start(tag, attrs) + ">\n")
        self.depth += 1

    def close(self, tag: str) -> None:
        self.depth -= 1
        self.parts.append("  " * self.depth + f"</{tag}>\n")

    def to_bytes(self) -> bytes:
        return "".join(self.parts).encode("utf-8")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "0"
    return str(round(seconds))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def persons_from_transcript(t: Transcript) -> tuple[Person, ...]:
    """``podcast:person`` entries for the speakers the user named.

    A speaker counts as named when the name is not the automatic ``Speaker 1`` kind;
    hosts and coaches are ``host``, everyone else ``guest``.
    """
    out: list[Person] = []
    seen: set[str] = set()
    for sp in t.speakers:
        name = _text(sp.name)
        if not name or _AUTO_SPEAKER_NAME.match(name) or name == sp.id or name in seen:
            continue
        seen.add(name)
        out.append(Person(name=name, role=_ROLE_TO_PERSON.get(sp.role or "", "guest")))
    return tuple(out)


def _person(x: _Xml, p: Person) -> None:
    attrs = {"role": p.role if p.role in PERSON_ROLES else "guest", "group": "cast"}
    if p.href:
        attrs["href"] = p.href
    if p.img:
        attrs["img"] = p.img
    x.leaf("podcast:person", _text(p.name), **attrs)


def _person_text(pad: str, name: str, role: str, href: str | None, img: str | None) -> str:
    """`_person` as text (the same XML), for an item written straight as text."""
    attrs = f'role="{role if role in PERSON_ROLES else "guest"}" group="cast"'
    if href:
        attrs += f' href="{_attr(href)}"'
    if img:
        attrs += f' img="{_attr(img)}"'
    name = _escape(_text(name))
    tag = "podcast:person"
    return f"{pad}<{tag} {attrs}>{name}</{tag}>\n" if name else f"{pad}<{tag} {attrs}/>\n"


def _channel(x: _Xml, show: FeedShow, newest: datetime | None) -> None:
    x.leaf("atom:link", href=show.feed_url, rel="self", type=FEED_MEDIA_TYPE)
    x.leaf("title", _text(show.title))
    x.leaf("link", show.link or show.feed_url)
    x.leaf("language", _text(show.language))
    x.leaf("description", (show.description or "").strip())
    if show.copyright:
        x.leaf("copyright", _text(show.copyright))
    x.leaf("generator", GENERATOR)
    built = show.built_at or newest
    if built is not None:
        x.leaf("lastBuildDate", rfc2822(built))
    if show.image_url:
        x.open("image")
        x.leaf("url", show.image_url)
        x.leaf("title", _text(show.title))
        x.leaf("link", show.link or show.feed_url)
        x.close("image")
        x.leaf("itunes:image", href=show.image_url)
    if show.subcategory:
        x.open("itunes:category", text=_text(show.category))
        x.leaf("itunes:category", text=_text(show.subcategory))
        x.close("itunes:category")
    else:
        x.leaf("itunes:category", text=_text(show.category))
    x.leaf("itunes:explicit", _bool(show.explicit))
    if show.author:
        x.leaf("itunes:author", _text(show.author))
    if show.owner_name or show.owner_email:
        x.open("itunes:owner")
        if show.owner_name:
            x.leaf("itunes:name", _text(show.owner_name))
        if show.owner_email:
            x.leaf("itunes:email", _text(show.owner_email))
        x.close("itunes:owner")
    x.leaf("itunes:type", show.type if show.type in SHOW_TYPES else "episodic")
    if show.private:
        x.leaf("itunes:block", "Yes")
    x.leaf("podcast:guid", show.podcast_guid)
    locked_attrs = {"owner": _text(show.owner_email)} if show.owner_email else {}
    x.leaf("podcast:locked", "yes" if show.locked else "no", **locked_attrs)
    for p in show.extra_persons:
        _person(x, p)


def _leaf(pad: str, tag: str, content: str | None) -> str:
    return f"{pad}<{tag}>{_escape(content)}</{tag}>\n" if content else f"{pad}<{tag}/>\n"


def item_xml(item: FeedItem, language: str) -> str:
    """One ``<item>`` (indented for its place in the channel): the same XML the streaming
    writer would give, written straight as text (a thousand items are most of a feed)."""
    enc = item.enclosure
    return item_text(
        guid=item.guid, title=item.title, notes_html=item.notes_html, link=item.link,
        enclosure_url=_attr(enc.url), length=enc.length, media_type=enc.media_type,
        published_at=item.published_at, duration_seconds=item.duration_seconds,
        explicit=item.explicit,
        image_url=_attr(item.image_url) if item.image_url else None,
        season=item.season, number=item.number, episode_type=item.episode_type,
        transcripts=[(_attr(tr.url), tr.media_type, tr.language or language, tr.captions)
                     for tr in item.transcripts],
        chapters_url=_attr(item.chapters_url) if item.chapters_url else None,
        persons=[(p.name, p.role, p.href, p.img) for p in item.persons])


def item_text(*, guid: str, title: str, notes_html: str, link: str | None,
              enclosure_url: str, length: int, media_type: str, published_at: datetime,
              duration_seconds: float, explicit: bool | None, image_url: str | None,
              season: int | None, number: int | None, episode_type: str,
              transcripts: Iterable[tuple[str, str, str | None, bool]],
              chapters_url: str | None,
              persons: Iterable[tuple[str, str, str | None, str | None]]) -> str:
    """`item_xml` from plain values, the URLs already escaped for an attribute (`_attr`;
    a feed built from the database escapes its base URL and token once, not per link).
    ``transcripts``: (url, media type, language, captions); ``persons``: (name, role,
    href, img)."""
    p = "      "
    title = _escape(_text(title))
    t = f"{p}<title>{title}</title>\n{p}<itunes:title>{title}</itunes:title>\n" if title \
        else f"{p}<title/>\n{p}<itunes:title/>\n"
    out = ["    <item>\n", t, _leaf(p, "description", notes_html),
           _leaf(p, "content:encoded", notes_html)]
    if link:
        out.append(_leaf(p, "link", link))
    out.append(f'{p}<guid isPermaLink="false">{_escape(guid)}</guid>\n' if guid
               else f'{p}<guid isPermaLink="false"/>\n')
    out.append(f'{p}<enclosure url="{enclosure_url}" length="{int(length)}" '
               f'type="{_attr(media_type)}"/>\n')
    out.append(f"{p}<pubDate>{rfc2822(published_at)}</pubDate>\n")
    out.append(f"{p}<itunes:duration>{_duration(duration_seconds)}</itunes:duration>\n")
    if explicit is not None:
        out.append(f"{p}<itunes:explicit>{_bool(explicit)}</itunes:explicit>\n")
    if image_url:
        out.append(f'{p}<itunes:image href="{image_url}"/>\n')
    if season is not None:
        out.append(f"{p}<itunes:season>{int(season)}</itunes:season>\n")
    if number is not None:
        out.append(f"{p}<itunes:episode>{int(number)}</itunes:episode>\n")
    kind = episode_type if episode_type in EPISODE_TYPES else "full"
    out.append(f"{p}<itunes:episodeType>{kind}</itunes:episodeType>\n")
    for url, mt, lang, captions in transcripts:
        attrs = f'url="{url}" type="{_attr(mt)}"'
        if lang:
            attrs += f' language="{_attr(_text(lang))}"'
        if captions:
            attrs += ' rel="captions"'
        out.append(f"{p}<podcast:transcript {attrs}/>\n")
    if chapters_url:
        out.append(f'{p}<podcast:chapters url="{chapters_url}" '
                   f'type="{CHAPTERS_MEDIA_TYPE}"/>\n')
    for name, role, href, img in persons:
        out.append(_person_text(p, name, role, href, img))
    out.append("    </item>\n")
    return "".join(out)


def _item(x: _Xml, item: FeedItem, language: str) -> None:
    x.parts.append(item_xml(item, language))


def order_items(items: Iterable[FeedItem]) -> list[FeedItem]:
    """Newest first (naive times taken as UTC), the guid breaking ties."""
    return sorted(items, key=lambda i: (_utc(i.published_at), i.guid), reverse=True)


def render_document(show: FeedShow, item_fragments: Iterable[str],
                    newest: datetime | None = None) -> bytes:
    """The feed document around items already written (`item_xml`, in feed order);
    ``newest`` is the newest item's date, for lastBuildDate when the show has no
    ``built_at``."""
    x = _Xml()
    x.parts.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    x.open("rss", version="2.0", **{f"xmlns:{k}": v for k, v in NSMAP.items()})
    x.open("channel")
    _channel(x, show, newest)
    x.parts.extend(item_fragments)
    x.close("channel")
    x.close("rss")
    return x.to_bytes()


def render_feed(show: FeedShow, items: Iterable[FeedItem],
                fragments: MutableMapping[tuple[FeedItem, str], str] | None = None) -> bytes:
    """The feed document (UTF-8 bytes, XML declaration included), items newest first.

    ``fragments``, when given, keeps each item's XML under the item itself (a frozen
    dataclass: equal items write equal XML), so a feed rebuilt after one change writes
    only the items that changed."""
    ordered = order_items(items)
    parts = []
    for item in ordered:
        if fragments is None:
            parts.append(item_xml(item, show.language))
            continue
        key = (item, show.language)
        fragment = fragments.get(key)
        if fragment is None:
            fragment = fragments[key] = item_xml(item, show.language)
        parts.append(fragment)
    return render_document(show, parts, _utc(ordered[0].published_at) if ordered else None)
