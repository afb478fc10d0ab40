"""Running the cache's methods off the event loop, on one thread of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from .base import CacheBase

P = ParamSpec("P")
T = TypeVar("T")


class CacheWorker:
    """Runs Cache methods on one dedicated thread, so the event loop never waits."""

    def __init__(self, cache: CacheBase) -> None:
        self.cache = cache
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rse-cache")

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on the cache's thread; a file that cannot be
        used raises CacheError."""

        def call() -> T:
            with self.cache.guarded():
                return fn(*args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        self._pool.submit(self.cache.close).result()
        self._pool.shutdown(wait=True)
