"""Search API: `GET /api/v1/search` (moments, titles and notes, best first)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from tapeworks.http.deps import DbDep
from tapeworks.search import service
from tapeworks.search.query import MAX_QUERY_CHARS
from tapeworks.search.schemas import HitOut, SearchPage
from tapeworks.users.deps import CurrentUser

router = APIRouter(prefix="/search", tags=["search"])


@router.get("", response_model=SearchPage)
def search(
    principal: CurrentUser,
    db: DbDep,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS,
                            description='words (all must match), "a phrase", prefix*, OR, -word')],
    client_id: Annotated[str | None, Query(max_length=32)] = None,
    date_from: Annotated[date | None, Query(alias="from", description="session date, inclusive")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="session date, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SearchPage:
    page = service.search(db, principal.user_id, q, client_id=client_id, date_from=date_from,
                          date_to=date_to, limit=limit, offset=offset)
    return SearchPage(query=page.query, hits=[HitOut(**asdict(h)) for h in page.hits],
                      limit=page.limit, offset=page.offset, has_more=page.has_more)
