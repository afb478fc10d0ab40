"""The local cache: one SQLite file per profile, the UI's source of truth.

It holds the groups, messages and user names seen so far, the sync cursor,
the outbox of writes not yet acknowledged, drafts, and "holes": ranges of
history the cache knows it lacks (before a join, or skipped by a gap), which
are filled from the server page by page when a view reaches them.

The parts: schema.py (migrations), base.py (the file, transactions, who we
are), errors.py (a file that cannot be used, said in one line), reduce.py
(the one reducer: how each event changes the cache), acks.py (an
acknowledged write as the events it stands for), outbox.py (writes waiting
to be sent), views.py (what the UI and the command line read),
feed.py (the reducer's feed state: threads, polls, votes, read markers),
portal.py (threads, the home portal and the inbox, read and stored),
worker.py (the thread async code reaches it through).

:class:`Cache` is synchronous and must be used from one thread;
:class:`CacheWorker` runs its methods on a dedicated thread for async code.
"""

from __future__ import annotations

from .base import KINDS
from .errors import CacheError
from .outbox import Outbox, new_cid, new_write
from .portal import Portal
from .schema import SCHEMA_VERSION
from .views import Mark
from .worker import CacheWorker

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "Cache",
    "CacheError",
    "CacheWorker",
    "Mark",
    "new_cid",
    "new_write",
]


class Cache(Outbox, Portal):
    """The cache of one profile. Not thread-safe: see CacheWorker."""
