from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tapeworks.episodes.schemas import EpisodeOut
from tapeworks.http.inputs import FiniteFloat, Line, StrictInput
from tapeworks.shows.chapters import Chapter
from tapeworks.shows.models import Publication, ShareLink, Show


class ShowIn(BaseModel):
    """Create or change a show; on PATCH only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[Line, Field(max_length=2000)] | None = None
    description: str | None = Field(default=None, max_length=100_000)
    language: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=200)
    subcategory: str | None = Field(default=None, max_length=200)
    explicit: bool | None = None
    author: str | None = Field(default=None, max_length=2000)
    owner_name: str | None = Field(default=None, max_length=2000)
    owner_email: str | None = Field(default=None, max_length=2000)
    link: str | None = Field(default=None, max_length=4000)
    copyright: str | None = Field(default=None, max_length=2000)
    type: str | None = Field(default=None, max_length=50)
    private: bool | None = None
    locked: bool | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ShowOut(BaseModel):
    id: str
    title: str
    description: str
    language: str
    category: str
    subcategory: str | None
    explicit: bool
    author: str
    owner_name: str
    owner_email: str
    link: str | None
    copyright: str
    type: str
    private: bool
    locked: bool
    podcast_guid: str
    feed_url: str
    artwork_url: str | None
    has_artwork: bool
    # Only in the answer that made it (create, turning private, POST .../feed-token):
    feed_token: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, show: Show, *, feed_url: str, artwork_url: str | None,
           feed_token: str | None = None) -> ShowOut:
        return cls(
            id=show.id, title=show.title, description=show.description, language=show.language,
            category=show.category, subcategory=show.subcategory, explicit=show.explicit,
            author=show.author, owner_name=show.owner_name, owner_email=show.owner_email,
            link=show.link, copyright=show.copyright, type=show.type, private=show.private,
            locked=show.locked, podcast_guid=show.podcast_guid, feed_url=feed_url,
            artwork_url=artwork_url, has_artwork=show.artwork_key is not None,
            feed_token=feed_token, created_at=show.created_at, updated_at=show.updated_at,
        )


class PublishIn(StrictInput):
    show_id: str = Field(max_length=64)
    title: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=2_000_000)
    season: int | None = None
    number: int | None = None
    episode_type: str | None = Field(default=None, max_length=50)
    explicit: bool | None = None
    publish_at: datetime | None = None


class PublicationOut(BaseModel):
    show_id: str | None
    guid: str
    state: str
    title: str
    description: str
    published_at: datetime | None
    publish_at: datetime | None
    season: int | None
    number: int | None
    episode_type: str
    explicit: bool | None

    @classmethod
    def of(cls, p: Publication) -> PublicationOut:
        return cls(show_id=p.show_id, guid=p.guid, state=p.state, title=p.title,
                   description=p.description, published_at=p.published_at,
                   publish_at=p.publish_at, season=p.season, number=p.number,
                   episode_type=p.episode_type, explicit=p.explicit)


class ChapterIn(StrictInput):
    start: FiniteFloat
    title: str = Field(max_length=2000)
    url: str | None = Field(default=None, max_length=4000)


class ChapterOut(BaseModel):
    start: float
    title: str
    url: str | None = None


class ChaptersOut(BaseModel):
    chapters: list[ChapterOut]

    @classmethod
    def of(cls, chapters: list[Chapter]) -> ChaptersOut:
        return cls(chapters=[ChapterOut(start=c.start, title=c.title, url=c.url)
                             for c in chapters])


class PublishedEpisodeOut(EpisodeOut):
    """The episode JSON with its item in a show (null when it was never published)."""

    publication: PublicationOut | None = None


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_at: datetime | None = None
    allow_download: bool = True


class ShareOut(BaseModel):
    id: str
    session_id: str
    allow_download: bool
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    url: str | None = None  # only in the answer that made it

    @classmethod
    def of(cls, link: ShareLink, url: str | None = None) -> ShareOut:
        return cls(id=link.id, session_id=link.session_id, allow_download=link.allow_download,
                   created_at=link.created_at, expires_at=link.expires_at,
                   revoked_at=link.revoked_at, last_used_at=link.last_used_at, url=url)
