"""SQLite off the event loop: one writer thread with group commit, a reader pool.

Every write is a function ``fn(conn, *args, **kwargs) -> result`` queued to
the single writer thread (the type checker holds its arguments against
``fn``'s signature: a misspelt one fails there, not in the thread). The thread
takes whatever writes are waiting (up to ``batch_max``), runs each inside its
own SAVEPOINT of one transaction, commits once, and only then resolves their
futures: an acknowledged write is on disk (WAL with ``synchronous=FULL``
syncs the log at every commit), and under load many writes share one fsync.
A write that raises is rolled back alone; the others in its batch still
commit.

Writes that produce events return :class:`Outcome`; after the commit, and
before any future resolves, the events of the whole batch are handed to the
``on_events`` callback on the event loop in one call (each write's events
with the write's origin, in sequence order), so fan-out order always matches
commit order and a client can get a batch's events in one frame.

Reads run on a small thread pool, each thread with its own connection, each
read inside one transaction (a consistent snapshot).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from rse_tui.protocol import Event, ProtocolError

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
#: Reads the events stored in ``(after, upto]`` by another process.
ForeignEvents = Callable[[sqlite3.Connection, int, int], list[Event]]
#: Called once per committed batch with each write's events and origin.
EventSink = Callable[[Sequence[tuple[Sequence[Event], object]]], None]


@dataclass(slots=True)
class Outcome(Generic[T]):
    """A write's result plus the events it stored (empty when replayed)."""

    value: T
    events: list[Event] = field(default_factory=list)
    #: The answer of an earlier write with the same client id: nothing was stored.
    replayed: bool = False
    #: Refused for good: the refusal is kept (committed) as the write's answer,
    #: and the handler raises it once the transaction is done.
    refused: ProtocolError | None = None
    #: What it wrote must not linger in the write-ahead log: the writer
    #: checkpoints and truncates the log after the commit (an anonymous vote).
    forget: bool = False


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    origin: object


def _truncate_log(conn: sqlite3.Connection) -> None:
    """Copy the write-ahead log into the file and empty it (best effort: a
    reader still on an older snapshot leaves it for the next time)."""
    conn.execute("PRAGMA busy_timeout = 200")
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        log.warning("could not empty the write-ahead log", exc_info=True)
    finally:
        conn.execute("PRAGMA busy_timeout = 10000")


def connect(path: Path, *, synchronous: str = "FULL", readonly: bool = False) -> sqlite3.Connection:
    """Open a connection with the pragmas every rse connection uses."""
    if readonly:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    # What is deleted or overwritten is zeroed, not left in free space.
    conn.execute("PRAGMA secure_delete = ON")
    return conn


class Database:
    """Owns the writer thread and the reader pool for one database file."""

    def __init__(
        self,
        path: Path,
        *,
        migrate: Callable[[sqlite3.Connection], None],
        on_events: EventSink | None = None,
        readers: int = 2,
        synchronous: str = "FULL",
        batch_max: int = 512,
        foreign_events: ForeignEvents | None = None,
        look_every: float = 2.0,
    ) -> None:
        self.path = path
        self._migrate = migrate
        self._on_events = on_events
        #: Events another process stored (``rse-server charter set`` while
        #: serving): read and handed on in their place, so the pushed stream
        #: has no hole. ``look_every``: how often an idle writer looks.
        self._foreign_events = foreign_events
        self._look_every = look_every
        self._published = 0
        self._synchronous = synchronous
        self._batch_max = batch_max
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader_count = readers
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def set_event_sink(self, sink: EventSink) -> None:
        self._on_events = sink

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._writer = threading.Thread(
            target=self._writer_main, args=(ready,), name="rse-db-writer", daemon=True
        )
        self._writer.start()
        await ready
        self._readers = ThreadPoolExecutor(
            max_workers=self._reader_count, thread_name_prefix="rse-db-reader"
        )

    async def close(self) -> None:
        if self._writer is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        with self._conns_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    async def write(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(conn, *args, **kwargs)`` in the writer thread; return once its
        commit is durable."""
        return await self.write_from(None, fn, *args, **kwargs)

    async def write_from(
        self,
        origin: object,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``write`` for ``origin``, the connection that asked: the events it stores
        are handed on with it (the fan-out does not echo them to it)."""
        if self._writer is None or self._loop is None:
            raise RuntimeError("database is not open")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._jobs.put(_Job(_bound(fn, *args, **kwargs), future, origin))
        return await future

    async def read(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(conn, *args, **kwargs)`` on a reader thread inside one read transaction."""
        if self._readers is None or self._loop is None:
            raise RuntimeError("database is not open")
        job = _bound(fn, *args, **kwargs)
        return await self._loop.run_in_executor(self._readers, self._read_job, job)

    # -- threads -----------------------------------------------------------

    def _read_job(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, synchronous=self._synchronous, readonly=True)
            self._local.conn = conn
            with self._conns_lock:
                self._reader_conns.append(conn)
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    def _writer_main(self, ready: asyncio.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            conn = connect(self.path, synchronous=self._synchronous)
            self._migrate(conn)
        except BaseException as exc:  # report to open() and stop
            loop.call_soon_threadsafe(_set_exception, ready, exc)
            return
        self._published = _head(conn)
        loop.call_soon_threadsafe(_set_result, ready, None)
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=self._look_every)
                except queue.Empty:
                    foreign = self._foreign(conn, None)
                    if foreign:
                        loop.call_soon_threadsafe(self._deliver, [], [], foreign)
                    continue
                if job is None:
                    break
                batch = [job]
                stop = False
                while len(batch) < self._batch_max:
                    try:
                        more = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                results = self._run_batch(conn, batch)
                if any(isinstance(v, Outcome) and v.forget for v, _ in results):
                    _truncate_log(conn)
                ours = [
                    e.seq
                    for value, exc in results
                    if exc is None and isinstance(value, Outcome)
                    for e in value.events
                ]
                foreign = self._foreign(conn, min(ours) if ours else None)
                self._published = max([self._published, *ours])
                loop.call_soon_threadsafe(self._deliver, batch, results, foreign)
                if stop:
                    break
        finally:
            conn.close()

    def _run_batch(
        self, conn: sqlite3.Connection, batch: list[_Job]
    ) -> list[tuple[Any, BaseException | None]]:
        results: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = job.fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((None, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((value, None))
            conn.execute("COMMIT")
        except Exception as exc:  # the commit itself failed: nothing is stored
            log.exception("write batch failed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(None, exc) for _ in batch]
        return results

    def _foreign(self, conn: sqlite3.Connection, ours: int | None) -> list[Event]:
        """Events stored by another process since the last published one (and
        below ``ours``, this batch's first): read in the writer, in order."""
        if self._foreign_events is None:
            return []
        upto = (ours - 1) if ours is not None else _head(conn)
        if upto <= self._published:
            return []
        events = self._foreign_events(conn, self._published, upto)
        self._published = upto
        return events

    def _deliver(
        self,
        batch: list[_Job],
        results: list[tuple[Any, BaseException | None]],
        foreign: list[Event] | None = None,
    ) -> None:
        if self._on_events is not None:
            stored: list[tuple[list[Event], Any]] = [(foreign, None)] if foreign else []
            stored += [
                (value.events, job.origin)
                for job, (value, exc) in zip(batch, results, strict=True)
                if exc is None and isinstance(value, Outcome) and value.events
            ]
            if stored:
                try:
                    self._on_events(stored)
                except Exception:
                    log.exception("event fan-out failed")
        for job, (value, exc) in zip(batch, results, strict=True):
            if job.future.done():
                continue
            if exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(value)


def _bound(
    fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kwargs: P.kwargs
) -> Callable[[sqlite3.Connection], T]:
    """``fn`` with its arguments but the connection, for the thread that has one."""

    def job(conn: sqlite3.Connection) -> T:
        return fn(conn, *args, **kwargs)

    return job


def _head(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])


def _set_result(future: asyncio.Future[None], value: None) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[None], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
