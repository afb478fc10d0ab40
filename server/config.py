"""Server settings: limits, costs and timings, injected wherever they are used."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rse_tui.protocol import MAX_CHAT_CHARS, MAX_POST_CHARS

from .auth import ScryptParams


@dataclass(frozen=True, slots=True)
class Limits:
    #: Frames above this size get a ``too_big`` error; the connection stays.
    max_frame: int = 64 * 1024
    #: Frames above this size are a protocol violation: the socket is closed.
    hard_max_frame: int = 1024 * 1024
    max_chat_chars: int = MAX_CHAT_CHARS
    max_post_chars: int = MAX_POST_CHARS
    max_group_name: int = 80
    max_title: int = 80
    max_description: int = 500
    max_user_name: int = 32
    min_password: int = 8
    max_password: int = 1024
    #: Requests per user (all connections together): a burst, then a rate.
    rate_burst: float = 60.0
    rate_per_second: float = 20.0
    #: A signed-in user's request over the rate waits its turn (its connection
    #: is read no further meanwhile) for up to this long; a longer wait is
    #: refused with ``rate_limited``.
    rate_max_delay: float = 10.0
    #: Requests per unauthenticated connection (login attempts and the like).
    anon_burst: float = 10.0
    anon_per_second: float = 1.0
    max_connections_per_user: int = 8
    #: After a wrong password, the same name from the same address waits this
    #: long, doubled at each failure up to the cap.
    login_retry_first: float = 1.0
    login_retry_cap: float = 60.0
    #: Logins and redeems waiting for a password-hashing thread, at most (one
    #: per address; a name that signed in from that address before goes first
    #: and is not counted): past it, ``rate_limited`` at once, not a wait that
    #: outlasts the client.
    login_queue: int = 16
    #: A connection that has not signed in within this many seconds is closed,
    #: and one address holds at most this many connections: idle anonymous
    #: sockets cannot use up the server's open files.
    sign_in_within: float = 10.0
    max_connections_per_address: int = 256
    #: Connections open at once, counted from the moment a socket is accepted
    #: (signed in or not); past it a handshake is answered HTTP 503. 20,000 is
    #: about 340 MiB at the 17 KiB an idle connection costs, and ten times what
    #: one process is measured serving (docs/performance.md). It is lowered to
    #: the open-file limit less ``spare_files`` (a service's usual 1,024
    #: gives 768), so that accepting connections never runs out of files.
    max_connections: int = 20_000
    #: Open files left for everything but counted connections: the database
    #: (three files per SQLite connection), the listening sockets, modules
    #: loaded on first use, the sockets asyncio accepts in one go before they
    #: are counted (up to 100) and the 64 kept past the cap to be answered 503.
    spare_files: int = 256
    #: The share of ``max_connections`` that connections not signed in may
    #: hold (a handshake without a token past it gets HTTP 503): idle
    #: anonymous sockets from many addresses, each kept ``sign_in_within``,
    #: cannot take the places of signed-in users, whose reconnects (with a
    #: token) are let in past this share.
    anonymous_share: float = 0.5
    #: Frames waiting for one client; past this the client is cut off.
    send_queue: int = 512
    #: Bytes of live events waiting for one client (before compression); past
    #: this the client is cut off. Replies to its own requests are not counted
    #: (a catch-up it asked for may be larger), only in ``send_queue``.
    send_queue_bytes: int = 1024 * 1024
    #: The kernel send buffer of a connection that has fallen behind (its
    #: frames started to queue), instead of the autotuned one (up to 4 MiB on
    #: Linux, which doubles the value given here); 0 leaves it alone.
    slow_sndbuf: int = 64 * 1024
    #: Bytes not yet sent that the kernel takes for one connection beyond
    #: those in flight (TCP_NOTSENT_LOWAT, Linux and macOS): past this, frames
    #: wait in the server's queue, where they are counted. 0 leaves it alone.
    kernel_unsent: int = 64 * 1024
    #: A single frame that cannot be written within this many seconds cuts
    #: the client off: it has stopped reading.
    send_timeout: float = 10.0
    #: A reconnecting client missing more events than this gets a gap marker
    #: and the newest ones.
    catch_up_bound: int = 2_000
    #: Replies that carry many items (events of a catch-up, history or recent
    #: messages; groups, members, requests, directory entries, users) cost one
    #: more request per this many items: reading is charged by what it reads.
    items_per_token: int = 200
    #: ... and one more per this many bytes of reply (a page of long posts).
    bytes_per_token: int = 64 * 1024
    #: Text a history page or a catch-up carries at most: past it, a page
    #: ends early (``more``) and a catch-up sends the newest that fit and a gap.
    max_reply_text: int = 1024 * 1024
    batch_size: int = 500
    max_history_page: int = 500
    #: How far back the time a client says it wrote a queued message may go.
    written_within: int = 7 * 24 * 3600
    max_users_per_request: int = 500
    max_groups_per_request: int = 500


@dataclass(frozen=True, slots=True)
class ServerConfig:
    db_path: Path
    host: str = "127.0.0.1"
    port: int = 8765
    tls_cert: Path | None = None
    tls_key: Path | None = None
    limits: Limits = field(default_factory=Limits)
    scrypt: ScryptParams = field(default_factory=ScryptParams)
    hash_concurrency: int = 2
    ping_interval: float | None = 60.0
    ping_timeout: float | None = 30.0
    synchronous: str = "FULL"
    #: permessage-deflate window (9-15) and zlib memory level (1-9): smaller
    #: costs less memory per connection and compresses a little less.
    compression_window_bits: int = 12
    #: The window for what clients send (short requests): the server keeps
    #: one of this size per connection for as long as it lasts.
    compression_client_window_bits: int = 11
    compression_mem_level: int = 3
    #: zlib level (1-9): every frame to every client is compressed on its own
    #: stream, so the cheapest level that keeps frames small wins.
    compression_level: int = 1
    #: A connection that sent nothing for this long (up to twice as long)
    #: gives back its compressor; 0 keeps compressors for good.
    compressor_idle: float = 30.0
    #: Anonymous polls' new votes are counted in the post, and their results
    #: published, every this many seconds, a batch at a time: a result that
    #: moved at once would point at whoever was active just then.
    tally_every: float = 30.0
    #: How often an idle server looks for events another process stored (such as
    #: ``rse-server charter set``), to push them.
    look_every: float = 2.0
    clock: Callable[[], float] = time.time
