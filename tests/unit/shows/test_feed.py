"""The feed document: read back by two real feed readers, and checked against the rules."""

from __future__ import annotations

import calendar
import io
import re
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import feedparser
import podcastparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from tapeworks.shows.feed import (
    ITUNES_NS,
    PODCAST_NS,
    Person,
    persons_from_transcript,
    podcast_guid,
    render_feed,
    rfc2822,
)
from tapeworks.shows.notes import xml_safe
from tapeworks.transcripts.model import Speaker, Transcript

from .factories import FEED_URL, make_item, make_show

NS = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": "http://www.w3.org/2005/Atom",
      "content": "http://purl.org/rss/1.0/modules/content/"}


@pytest.fixture
def feed_bytes() -> bytes:
    return render_feed(make_show(), [make_item(n) for n in (1, 2, 3)])


def test_podcastparser_reads_every_channel_and_item_field(feed_bytes: bytes) -> None:
    parsed = podcastparser.parse(FEED_URL, io.BytesIO(feed_bytes))
    show = make_show()
    assert parsed["title"] == show.title
    assert parsed["link"] == show.link
    assert parsed["description"] == show.description
    assert parsed["language"] == "en-GB"
    assert parsed["cover_url"] == show.image_url
    assert parsed["itunes_categories"] == [["Health & Fitness", "Mental Health"]]
    assert parsed["explicit"] is False
    assert parsed["itunes_author"] == "Anna Coach"
    assert parsed["itunes_owner"] == {"name": "Anna Owner", "email": "anna@example.org"}
    assert parsed["type"] == "episodic"
    assert parsed["generator"] == "tapeworks"
    assert [e["guid"] for e in parsed["episodes"]] == [f"tapeworks:episode:ep-{n}"
                                                       for n in (3, 2, 1)]
    for episode in parsed["episodes"]:
        n = int(episode["guid"].rsplit("-", 1)[1])
        item = make_item(n)
        assert episode["title"] == f"Episode {n}"
        assert episode["link"] == item.link
        assert episode["description_html"] == item.notes_html
        assert episode["enclosures"] == [{"url": item.enclosure.url,
                                          "file_size": item.enclosure.length,
                                          "mime_type": "audio/mpeg"}]
        assert episode["published"] == calendar.timegm(item.published_at.utctimetuple())
        assert episode["total_time"] == round(item.duration_seconds)
        assert episode["explicit"] is (n == 2)
        assert (episode["season"], episode["number"], episode["type"]) == (1, n, "full")


def test_podcastparser_reads_the_podcasting_2_tags(feed_bytes: bytes, monkeypatch) -> None:
    # podcastparser 0.6.11 knows the Podcasting 2.0 namespace only by its old GitHub URI;
    # the spec's URI (which we write, as every current app reads) is taught to it here so
    # its own element handlers read our transcript, chapters, person and locked tags.
    monkeypatch.setitem(podcastparser.Namespace.NAMESPACES, PODCAST_NS, "podcast")
    parsed = podcastparser.parse(FEED_URL, io.BytesIO(feed_bytes))
    assert parsed["import_prohibited"] is True  # podcast:locked yes
    episode = parsed["episodes"][0]
    media = "https://pod.example.org/media/episodes/ep-3"
    assert episode["transcript_url"] == f"{media}/v1/transcript.json"  # the last one it sees
    assert episode["chapters_json_url"] == f"{media}/chapters.json"
    assert episode["persons"] == [
        {"name": "Anna Coach", "role": "host", "group": "cast", "href": None, "img": None},
        {"name": "Guest 3", "role": "guest", "group": "cast", "href": None, "img": None},
    ]


def test_feedparser_reads_the_feed_without_complaint(feed_bytes: bytes) -> None:
    parsed = feedparser.parse(feed_bytes)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    feed = parsed.feed
    show = make_show()
    assert feed.title == show.title
    assert feed.link == show.link
    assert feed.subtitle == show.description
    assert feed.language == "en-GB"
    assert feed.image.href == show.image_url
    assert feed.rights == show.copyright
    assert {"href": FEED_URL, "rel": "self", "type": "application/rss+xml"} in feed.links
    assert sorted(t.term for t in feed.tags) == ["Health & Fitness", "Mental Health"]
    assert feed.publisher_detail == {"name": "Anna Owner", "email": "anna@example.org"}
    assert feed.itunes_type == "episodic"
    assert feed.podcast_guid == show.podcast_guid
    assert feed.podcast_locked == {"owner": "anna@example.org"}
    assert len(parsed.entries) == 3
    for entry in parsed.entries:
        n = int(entry.id.rsplit("-", 1)[1])
        item = make_item(n)
        assert entry.guidislink is False
        assert entry.title == entry.itunes_title == item.title
        assert entry.summary == item.notes_html.replace("'", '"')
        assert entry.content[0].value == entry.summary
        enclosure = next(link for link in entry.links if link.rel == "enclosure")
        assert (enclosure.href, int(enclosure.length), enclosure.type) == (
            item.enclosure.url, item.enclosure.length, "audio/mpeg")
        assert calendar.timegm(entry.published_parsed) == calendar.timegm(
            item.published_at.utctimetuple())
        assert int(entry.itunes_duration) == round(item.duration_seconds)
        assert (entry.itunes_season, entry.itunes_episode, entry.itunes_episodetype) == (
            "1", str(n), "full")
        # feedparser keeps the last of repeated unknown-namespace tags
        assert entry.podcast_transcript["url"] == item.transcripts[-1].url
        assert entry.podcast_chapters == {"url": item.chapters_url,
                                          "type": "application/json+chapters"}


def test_every_transcript_format_and_person_is_in_the_xml(feed_bytes: bytes) -> None:
    root = etree.fromstring(feed_bytes)
    item = root.find("channel/item")
    assert item is not None
    transcripts = [dict(t.attrib) for t in item.findall("podcast:transcript", NS)]
    media = "https://pod.example.org/media/episodes/ep-3/v1"
    assert transcripts == [
        {"url": f"{media}/transcript.vtt", "type": "text/vtt", "language": "en-GB",
         "rel": "captions"},
        {"url": f"{media}/transcript.srt", "type": "application/x-subrip",
         "language": "en-GB", "rel": "captions"},
        {"url": f"{media}/transcript.json", "type": "application/json", "language": "en-GB"},
    ]
    people = [(p.text, p.get("role")) for p in item.findall("podcast:person", NS)]
    assert people == [("Anna Coach", "host"), ("Guest 3", "guest")]


REQUIRED_CHANNEL = ["atom:link", "title", "link", "language", "description", "itunes:image",
                    "itunes:category", "itunes:explicit", "itunes:author", "itunes:owner",
                    "itunes:type", "podcast:guid", "podcast:locked"]
REQUIRED_ITEM = ["title", "guid", "enclosure", "pubDate", "itunes:duration", "description",
                 "itunes:episodeType"]


def test_required_tags_dates_and_guids(feed_bytes: bytes) -> None:
    root = etree.fromstring(feed_bytes)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for tag in REQUIRED_CHANNEL:
        assert len(channel.findall(tag, NS)) == 1, tag
    assert channel.find("atom:link", NS).get("rel") == "self"
    items = channel.findall("item")
    guids = []
    dates = []
    for item in items:
        for tag in REQUIRED_ITEM:
            assert len(item.findall(tag, NS)) == 1, tag
        guid = item.find("guid")
        assert guid.get("isPermaLink") == "false"
        guids.append(guid.text)
        pub = item.findtext("pubDate")
        assert re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", pub)
        dates.append(parsedate_to_datetime(pub))
        length = item.find("enclosure").get("length")
        n = int(guid.text.rsplit("-", 1)[1])
        assert int(length) == make_item(n).enclosure.length
    assert len(set(guids)) == len(guids) == 3
    assert dates == sorted(dates, reverse=True)
    last_build = parsedate_to_datetime(channel.findtext("lastBuildDate"))
    assert last_build == max(dates)


def test_guids_are_stable_across_renders_and_edits() -> None:
    first = render_feed(make_show(), [make_item(n) for n in (1, 2)])
    edited = render_feed(make_show(title="Renamed"),
                         [make_item(1, title="New title"), make_item(2)])

    def guids(data: bytes) -> list[str]:
        return [g.text for g in etree.fromstring(data).iter("guid")]

    assert guids(first) == guids(edited)


def test_podcast_guid_is_the_podcast_index_uuid5_of_the_url_without_scheme() -> None:
    # The Podcasting 2.0 spec's own example.
    assert podcast_guid("https://mp3s.nashownotes.com/pc20rss.xml") == (
        "917393e3-1b1e-5cef-ace4-edaa54e1f810")
    assert podcast_guid("http://mp3s.nashownotes.com/pc20rss.xml/") == (
        "917393e3-1b1e-5cef-ace4-edaa54e1f810")
    assert uuid.UUID(podcast_guid(FEED_URL)).version == 5


def test_rfc2822_converts_to_gmt() -> None:
    from datetime import timedelta, timezone

    paris = timezone(timedelta(hours=2))
    assert rfc2822(datetime(2026, 6, 2, 16, 0, tzinfo=paris)) == "Tue, 02 Jun 2026 14:00:00 GMT"
    assert rfc2822(datetime(2026, 6, 2, 14, 0)) == "Tue, 02 Jun 2026 14:00:00 GMT"


HOSTILE = [
    "<script>alert(1)</script>",
    "Fish & Chips ]]> <![CDATA[ x ]]>",
    "emoji 🎙️👩🏽‍💻 and RTL \u202e",
    "control \x00\x01\x08\x0b\x0c\x1b\x7f\x85 chars \ud800 lone surrogate",
    "&amp; &lt; &#0; &#xD800; entities as text",
    '"quotes" \'apostrophes\'',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_everywhere_gives_well_formed_xml(text: str) -> None:
    show = make_show(title=text, description=text, author=text, owner_name=text,
                     copyright=text, category=text, subcategory=text, language=text)
    item = make_item(1, title=text, notes_html=text, guid=text,
                     persons=(Person(text, "host"),), link="https://x.org/?a=1&b=" + text)
    data = render_feed(show, [item])
    root = etree.fromstring(data)  # raises on anything not well-formed
    assert feedparser.parse(data).bozo == 0
    title = root.findtext("channel/title")
    assert "\x00" not in title and "\ud800" not in title
    if text.startswith("<script>"):
        assert title == text  # escaped, not dropped
        assert b"<script>" not in data
    parsed = podcastparser.parse(FEED_URL, io.BytesIO(data))
    assert parsed["episodes"][0]["title"] == root.findtext("channel/item/title")


def test_a_one_megabyte_description_gives_a_well_formed_feed() -> None:
    big = ("<p>" + "Long & <b>bold</b> notes ]]> " * 40_000 + "</p>")
    assert len(big.encode()) > 1_000_000
    data = render_feed(make_show(description="d" * 1_000_000), [make_item(1, notes_html=big)])
    root = etree.fromstring(data, parser=etree.XMLParser(huge_tree=True))
    assert root.findtext("channel/item/description") == big
    assert len(root.findtext("channel/description")) == 1_000_000


def test_a_show_without_artwork_or_episodes_still_gives_a_valid_feed() -> None:
    data = render_feed(make_show(image_url=None, owner_email=None, owner_name=None), [])
    root = etree.fromstring(data)
    channel = root.find("channel")
    assert channel.find("itunes:image", NS) is None and channel.find("image") is None
    assert channel.find("item") is None
    assert channel.findtext("podcast:locked", namespaces=NS) == "yes"
    assert feedparser.parse(data).bozo == 0


def test_private_show_is_blocked_from_directories_and_locked_follows_the_show() -> None:
    private = etree.fromstring(render_feed(make_show(private=True, locked=False), []))
    assert private.findtext("channel/itunes:block", namespaces=NS) == "Yes"
    assert private.findtext("channel/podcast:locked", namespaces=NS) == "no"
    public = etree.fromstring(render_feed(make_show(), []))
    assert public.find("channel/itunes:block", NS) is None


def test_optional_item_fields_are_left_out_when_unset() -> None:
    item = make_item(1, season=None, number=None, explicit=None, chapters_url=None,
                     transcripts=(), persons=(), link=None, episode_type="bonus")
    el = etree.fromstring(render_feed(make_show(), [item])).find("channel/item")
    for tag in ("itunes:season", "itunes:episode", "itunes:explicit", "podcast:chapters",
                "podcast:transcript", "podcast:person", "link"):
        assert el.find(tag, NS) is None, tag
    assert el.findtext("itunes:episodeType", namespaces=NS) == "bonus"


def test_naive_and_aware_dates_sort_together() -> None:
    items = [make_item(1, published_at=datetime(2026, 1, 2, 12, 0)),
             make_item(2, published_at=datetime(2026, 1, 2, 11, 0, tzinfo=UTC))]
    data = render_feed(make_show(), items)
    assert [g.text for g in etree.fromstring(data).iter("guid")] == [
        "tapeworks:episode:ep-1", "tapeworks:episode:ep-2"]


def test_persons_are_the_speakers_the_user_named() -> None:
    t = Transcript(speakers=[
        Speaker(id="S1", name="Anna", role="coach"),
        Speaker(id="S2", name="Speaker 2", role="client"),  # never named by the user
        Speaker(id="S3", name="Ben", role="client"),
        Speaker(id="S4", name="Cleo", role="host"),
        Speaker(id="S5", name="Dan", role=None),
        Speaker(id="S6", name="  ", role="guest"),
    ])
    assert persons_from_transcript(t) == (
        Person("Anna", "host"), Person("Ben", "guest"), Person("Cleo", "host"),
        Person("Dan", "guest"),
    )


any_text = st.text(st.one_of(st.characters(codec=None, exclude_categories=()),
                             st.sampled_from("\r\n\t<>&\"']]\x00\x85")), max_size=40)


@given(title=any_text, notes=any_text, name=any_text, url=any_text, language=any_text)
def test_any_text_in_any_field_parses_back_as_written(title, notes, name, url,
                                                      language) -> None:
    show = make_show(title=title, description=notes, author=name, owner_email=name,
                     category=name, language=language)
    item = make_item(1, title=title, notes_html=notes, guid=url, link=url,
                     persons=(Person(name, "host"),),
                     enclosure=make_item(1).enclosure.__class__(url, 5, "audio/mpeg"))
    root = etree.fromstring(render_feed(show, [item]))
    channel = root.find("channel")
    el = channel.find("item")

    def line(s: str) -> str:
        return " ".join(xml_safe(s).split())

    assert (channel.findtext("title") or "") == line(title)
    assert (channel.findtext("description") or "") == xml_safe(notes).strip()
    assert channel.find("itunes:category", NS).get("text") == line(name)
    assert (el.findtext("description") or "") == xml_safe(notes)
    assert (el.findtext("guid") or "") == xml_safe(url)
    assert el.find("enclosure").get("url") == xml_safe(url)
    assert (el.findtext("podcast:person", namespaces=NS) or "") == line(name)


_row_text = st.text(st.characters(codec="utf-8"), max_size=40)


@given(title=_row_text, notes=_row_text, guid=_row_text, name=_row_text,
       base=st.sampled_from(["https://pod.example.org", "http://h:8000/a&b\"<c>",
                             "https://x.example/\u00e9t\u00e9"]),
       token=st.one_of(st.none(), st.text(alphabet="ab&<\"-_", min_size=1, max_size=8)),
       explicit=st.sampled_from([None, 0, 1, True, False]),
       chapters=st.sampled_from([None, "null", "[]", '[{"start": 0}]']),
       persons=st.sampled_from([None, "[]", '[{"name": "Anna", "role": "host"}]',
                                [{"name": "Ben <&>", "role": "other"}, {"role": "host"}]]),
       language=st.sampled_from(["en", "", "en-GB"]))
def test_items_written_from_database_rows_equal_the_items_writer(
        title, notes, guid, name, base, token, explicit, chapters, persons,
        language) -> None:
    """The feed built from the database writes each item straight from its row
    (`publishing._row_fragment`); it must be the XML `item_xml` writes for that item."""
    from tapeworks.shows import publishing
    from tapeworks.shows.feed import feed_attr, item_xml

    if isinstance(persons, list):
        persons = [{**p, "name": name} if "name" in p else p for p in persons]
    row = ("pub1", guid, title, notes, "2026-06-01 09:00:00.000000", "2026-05-01 09:00:00",
           explicit, 1, 7, "full", "0123abcd", "mp3", "k/audio.mp3", 1234, 61.4,
           "k/transcript.json", chapters, persons, 3)
    sort_key, fast = publishing._row_fragment(
        row, feed_attr(base), feed_attr(f"?token={token}") if token else "", language)
    slow = item_xml(publishing._feed_item(row, base, token), language)
    assert fast == slow
    assert sort_key == (datetime(2026, 6, 1, 9, 0, tzinfo=UTC), guid)
