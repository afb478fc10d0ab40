"""``rse-server``: serve the network, and administer it.

    rse-server serve [--db PATH] [--host 127.0.0.1] [--port 8765] [--demo]
                     [--tls-cert FILE --tls-key FILE]
    rse-server invite [--db PATH] [--admin] [--hours 168] [--group NAME ...]
    rse-server charter set FILE [--db PATH]
    rse-server admin USER [--remove] [--db PATH]
    rse-server badge USER ambassador|none [--db PATH]

The administration commands write straight to the database file, so they work
whether or not a server is running on it (a running server sees the change at
once); ``invite`` prints the code as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sqlite3
import sys
import time
from pathlib import Path

import platformdirs

from rse_tui.protocol import BADGES, ProtocolError

from . import auth, demo, storage
from .app import RseServer
from .config import Limits, ServerConfig
from .database import connect
from .schema import migrate


def default_db() -> Path:
    return platformdirs.user_data_path("rse-server") / "rse.db"


def open_db(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    conn = connect(path)
    migrate(conn)
    return conn


async def _serve(config: ServerConfig) -> None:
    server = RseServer(config)
    await server.start()
    print(f"rse-server: listening on {server.url} (database {config.db_path})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        print("rse-server: stopped", flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    if (args.tls_cert is None) != (args.tls_key is None):
        print("rse-server: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    db_path = Path(args.db)
    config = ServerConfig(
        db_path=db_path,
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        ping_interval=args.ping_interval,
        compressor_idle=args.compressor_idle,
        limits=Limits(
            rate_per_second=args.rate_limit,
            rate_burst=3 * args.rate_limit,
            max_connections_per_user=args.max_connections_per_user,
        ),
    )
    conn = open_db(db_path)
    try:
        if args.demo and demo.seed(conn, int(time.time())):
            print("rse-server: seeded demo content", flush=True)
        if args.demo:
            code = mint_invite(conn, admin=True, hours=24)
            print(f"rse-server: demo invitation (admin, 24 h): {code}", flush=True)
    finally:
        conn.close()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config))
    return 0


def mint_invite(
    conn: sqlite3.Connection, *, admin: bool, hours: float, groups: list[int] | None = None
) -> str:
    code = auth.new_invite_code()
    now = int(time.time())
    with storage.transaction(conn):
        storage.create_invite(
            conn,
            auth.digest(code),
            admin=admin,
            now=now,
            expires=now + int(hours * 3600),
            groups=groups or [],
        )
    return code


def _group_ids(conn: sqlite3.Connection, names: list[str]) -> list[int]:
    ids = []
    for name in names:
        rows = conn.execute(
            "SELECT id FROM groups WHERE name = ? COLLATE NOCASE AND dm_key IS NULL", (name,)
        ).fetchall()
        if len(rows) != 1:
            what = "no group" if not rows else "several groups"
            raise SystemExit(f"rse-server: {what} named {name!r}")
        ids.append(rows[0][0])
    return ids


def cmd_invite(args: argparse.Namespace) -> int:
    if not 0 < args.hours <= 24 * 365:
        print("rse-server: --hours is between 0 and 8760", file=sys.stderr)
        return 2
    conn = open_db(Path(args.db))
    try:
        groups = _group_ids(conn, args.group)
        code = mint_invite(conn, admin=args.admin, hours=args.hours, groups=groups)
    finally:
        conn.close()
    kind = "admin invitation" if args.admin else "invitation"
    print(f"rse-server: single-use {kind}, valid {args.hours:g} h:")
    print(code)
    return 0


def _admin_command(args: argparse.Namespace, action: str) -> int:
    conn = open_db(Path(args.db))
    try:
        with storage.transaction(conn):
            if action == "charter":
                text = Path(args.file).read_text(encoding="utf-8")
                if not text.strip():
                    print("rse-server: the charter file is empty", file=sys.stderr)
                    return 2
                version = storage.publish_charter(conn, text, int(time.time())).value
                print(
                    f"rse-server: charter version {version} published; every user accepts it"
                    " before writing again"
                )
            elif action == "admin":
                storage.set_admin(conn, args.user, not args.remove)
                state = "no longer a site admin" if args.remove else "a site admin"
                print(f"rse-server: {args.user} is {state}")
            else:
                badge = None if args.badge == "none" else args.badge
                storage.set_badge(conn, args.user, badge)
                print(f"rse-server: {args.user} badge: {args.badge}")
    except ProtocolError as exc:
        print(f"rse-server: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"rse-server: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rse-server", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--db", default=str(default_db()), help="SQLite file (created if missing)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve wss://")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument("--demo", action="store_true", help="seed demo content if empty")
    serve.add_argument(
        "--rate-limit",
        type=float,
        default=20.0,
        metavar="N",
        help="requests per second per user, after a burst of 3 s worth (default 20)",
    )
    serve.add_argument(
        "--max-connections-per-user",
        type=int,
        default=8,
        metavar="N",
        help="sessions one user may have open at once (default 8)",
    )
    serve.add_argument(
        "--ping-interval",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds between keepalive pings (default 60; lower it behind NATs that"
        " forget idle connections sooner)",
    )
    serve.add_argument(
        "--compressor-idle",
        type=float,
        default=30.0,
        metavar="S",
        help="a connection quiet for S to 2S seconds frees its compressor (default 30; 0 never)",
    )
    serve.set_defaults(func=cmd_serve)
    invite = sub.add_parser("invite", help="print a single-use invitation code")
    invite.add_argument("--db", default=str(default_db()))
    invite.add_argument("--admin", action="store_true", help="the new user is a site admin")
    invite.add_argument("--hours", type=float, default=168.0, help="validity (default 7 days)")
    invite.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME",
        help="a group the new user joins (repeatable)",
    )
    invite.set_defaults(func=cmd_invite)
    charter = sub.add_parser("charter", help="publish the usage charter")
    charter_sub = charter.add_subparsers(dest="charter_command", required=True)
    charter_set = charter_sub.add_parser("set", help="publish FILE (Markdown) as a new version")
    charter_set.add_argument("file")
    charter_set.add_argument("--db", default=str(default_db()))
    charter_set.set_defaults(func=lambda a: _admin_command(a, "charter"))
    admin = sub.add_parser("admin", help="make USER a site admin (--remove: no longer)")
    admin.add_argument("user")
    admin.add_argument("--remove", action="store_true")
    admin.add_argument("--db", default=str(default_db()))
    admin.set_defaults(func=lambda a: _admin_command(a, "admin"))
    badge = sub.add_parser("badge", help="give USER a badge (none: take it away)")
    badge.add_argument("user")
    badge.add_argument("badge", choices=[*BADGES, "none"])
    badge.add_argument("--db", default=str(default_db()))
    badge.set_defaults(func=lambda a: _admin_command(a, "badge"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="rse-server: %(levelname)s %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
