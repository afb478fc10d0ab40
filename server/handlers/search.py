"""The search request: full-text search over what the asker may read."""

from __future__ import annotations

from rse_tui.protocol import ErrorCode, ProtocolError, Search, SearchResults

from .. import storage
from .base import Caller, Services, check_page

#: A search query's longest text (characters).
MAX_QUERY_CHARS = 500


def check_query(query: str) -> str:
    if len(query) > MAX_QUERY_CHARS:
        raise ProtocolError(
            ErrorCode.TOO_LONG, f"a search has at most {MAX_QUERY_CHARS} characters"
        )
    return query


async def search(svc: Services, caller: Caller, req: Search) -> SearchResults:
    query = check_query(req.query)
    if req.after is not None and req.before is not None and req.after >= req.before:
        raise ProtocolError(ErrorCode.BAD_FIELD, "'af' is before 'bf'")
    events, authors, more = await svc.db.read(
        storage.search,
        user=caller.user,
        query=query,
        limit=check_page(req.limit, svc.limits),
        group=req.group,
        author=req.author,
        after=req.after,
        before=req.before,
    )
    # A search ranks every match before it keeps the best: charged as a page
    # of ten at least (what the most common word costs is for the bench of
    # 1,000,000 messages to measure: issue 13).
    svc.charge_items(caller.user, max(10, len(events)))
    return SearchResults(request_id=req.request_id, events=events, users=authors, more=more)
