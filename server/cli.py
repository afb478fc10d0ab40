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
import errno
import logging
import math
import signal
import socket
import ssl
import sys
import time
from pathlib import Path

from rse_tui.protocol import Badge, ProtocolError

from . import demo, storage
from .admin import AdminError, default_db, group_ids, mint_invite, open_db
from .app import RseServer, tls_context
from .config import Limits, ServerConfig
from .gate import quiet_accept_failures

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """One line for stderr, and the exit code: 1 failed, 2 bad usage."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _listen_error(config: ServerConfig, exc: OSError) -> CliError:
    if isinstance(exc, socket.gaierror):
        return CliError(f"cannot listen on {config.host!r}: no such host or address", EXIT_USAGE)
    why = {
        errno.EADDRINUSE: "the port is in use (--port 0 picks a free one)",
        errno.EACCES: "permission denied (ports below 1024 need privileges)",
        errno.EADDRNOTAVAIL: "that address is not one of this host's",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return CliError(f"cannot listen on {config.host}:{config.port}: {why}")


def _more_open_files() -> str:
    """Raise the soft limit on open files to the hard one: each connection is a
    file, and a service's usual 1,024 is little. Returns what to log."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return f"open files: {soft} -> {hard}"
        return f"open files: {soft}"
    except (ImportError, ValueError, OSError):
        return "open files: as set"


async def _serve(config: ServerConfig, seed_demo: bool) -> None:
    files = _more_open_files()
    quiet_accept_failures(asyncio.get_running_loop())
    server = RseServer(config)
    try:
        await server.listen()
    except OSError as exc:
        raise _listen_error(config, exc) from None
    try:
        await asyncio.to_thread(_prepare, config.db_path, seed_demo)
        await server.start()
    except BaseException:
        await server.stop()
        raise
    caps = server.gate.caps
    print(
        f"rse-server: listening on {server.url} (database {config.db_path}; {files};"
        f" at most {caps.total} connections, {caps.anonymous} not signed in)",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        print("rse-server: stopped", flush=True)


def _prepare(db_path: Path, seed_demo: bool) -> None:
    """Create (or check and update) the database; seed the demo if asked."""
    conn = open_db(db_path)
    try:
        if seed_demo and demo.seed(conn, int(time.time())):
            print("rse-server: seeded demo content", flush=True)
        if seed_demo:
            code = mint_invite(conn, admin=True, hours=24)
            print(f"rse-server: demo invitation (admin, 24 h): {code}", flush=True)
    finally:
        conn.close()


def _check_tls(cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        raise CliError("--tls-cert and --tls-key go together", EXIT_USAGE)
    if cert is None:
        return
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        assert path is not None
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise CliError(f"{option} {path} {what}", EXIT_USAGE)
    try:
        tls_context(cert, key)
    except ssl.SSLError as exc:
        why = (
            "the key does not match the certificate"
            if exc.reason == "KEY_VALUES_MISMATCH"
            else "not a PEM certificate chain and its private key"
        )
        raise CliError(
            f"cannot use --tls-cert {cert} with --tls-key {key}: {why}", EXIT_USAGE
        ) from None
    except OSError as exc:
        raise CliError(f"cannot read {exc.filename or cert}: {exc.strerror}", EXIT_USAGE) from None


def cmd_serve(args: argparse.Namespace) -> int:
    _check_tls(args.tls_cert, args.tls_key)
    db_path = Path(args.db)
    if db_path.is_dir():
        raise CliError(f"{db_path} is a directory: --db names the database file", EXIT_USAGE)
    config = ServerConfig(
        db_path=db_path,
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        ping_interval=args.ping_interval,
        compressor_idle=args.compressor_idle,
        tally_every=args.tally_every,
        limits=Limits(
            rate_per_second=args.rate_limit,
            rate_burst=3 * args.rate_limit,
            max_connections_per_user=args.max_connections_per_user,
            max_connections=args.max_connections,
        ),
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, args.demo))
    return EXIT_OK


def cmd_invite(args: argparse.Namespace) -> int:
    if not 0 < args.hours <= 24 * 365:
        raise CliError("--hours is more than 0 and at most 8760 (a year)", EXIT_USAGE)
    conn = open_db(Path(args.db), create=False)
    try:
        groups = group_ids(conn, args.group)
        code = mint_invite(conn, admin=args.admin, hours=args.hours, groups=groups)
    finally:
        conn.close()
    kind = "admin invitation" if args.admin else "invitation"
    print(f"rse-server: single-use {kind}, valid {args.hours:g} h:")
    print(code)
    return EXIT_OK


def _charter_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise CliError(f"{path} is a directory, not a charter file", EXIT_USAGE) from None
    except FileNotFoundError:
        raise CliError(f"no charter file at {path}", EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CliError(f"{path} is not UTF-8 text (line {line})", EXIT_USAGE) from None
    if not text.strip():
        raise CliError(f"the charter file {path} is empty", EXIT_USAGE)
    return text


def _admin_command(args: argparse.Namespace, action: str) -> int:
    text = _charter_text(Path(args.file)) if action == "charter" else ""
    conn = open_db(Path(args.db), create=False)
    try:
        with storage.transaction(conn):
            if action == "charter":
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
        raise CliError(exc.message) from None
    finally:
        conn.close()
    return EXIT_OK


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return int(text)


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _seconds(text: str, *, zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        least = "0 or more" if zero else "more than 0"
        raise argparse.ArgumentTypeError(f"{text!r} is not a number {least}")
    return value


def _positive(text: str) -> float:
    return _seconds(text, zero=False)


def _non_negative(text: str) -> float:
    return _seconds(text, zero=True)


def _text(value: str) -> str:
    """Command-line text that SQLite can store (not undecodable bytes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError("not valid UTF-8 text") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rse-server",
        description="Serve the rse network (one SQLite file), and administer it.",
        epilog="Exit codes: 0 done, 1 failed or refused, 2 bad usage. Errors are one line"
        " on stderr. Commands other than serve need an existing database.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def db_option(cmd: argparse.ArgumentParser, serve: bool = False) -> None:
        cmd.add_argument(
            "--db",
            default=str(default_db()),
            metavar="PATH",
            help=(
                "the SQLite database file, created if missing"
                if serve
                else "the SQLite database file (it must exist)"
            )
            + " (default %(default)s)",
        )

    serve = sub.add_parser("serve", help="run the server", description="Run the server.")
    db_option(serve, serve=True)
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        type=_text,
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=8765,
        help="port to listen on (default 8765; 0 picks a free one)",
    )
    serve.add_argument(
        "--tls-cert", type=Path, metavar="FILE", help="PEM certificate chain: serve wss://"
    )
    serve.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key of --tls-cert")
    serve.add_argument("--demo", action="store_true", help="seed demo content if empty")
    serve.add_argument(
        "--rate-limit",
        type=_positive,
        default=20.0,
        metavar="N",
        help="requests per second per user, after a burst of 3 s worth (default 20)",
    )
    serve.add_argument(
        "--max-connections-per-user",
        type=_count,
        default=8,
        metavar="N",
        help="connections one user may have open at once (default 8)",
    )
    serve.add_argument(
        "--max-connections",
        type=_count,
        default=Limits().max_connections,
        metavar="N",
        help="connections open at once (default 20000, lowered to fit the open-file limit;"
        " half of them at most not signed in)",
    )
    serve.add_argument(
        "--ping-interval",
        type=_non_negative,
        default=60.0,
        metavar="S",
        help="seconds between keepalive pings (default 60; 0 never; lower it behind NATs"
        " that forget idle connections sooner)",
    )
    serve.add_argument(
        "--compressor-idle",
        type=_non_negative,
        default=30.0,
        metavar="S",
        help="a connection quiet for S to 2S seconds frees its compressor (default 30; 0 never)",
    )
    serve.add_argument(
        "--tally-every",
        type=_positive,
        default=30.0,
        metavar="S",
        help="anonymous polls' new votes are counted and published every S seconds, a batch"
        " at a time (default 30)",
    )
    serve.set_defaults(func=cmd_serve)
    invite = sub.add_parser(
        "invite",
        help="print a single-use invitation code",
        description="Print a single-use invitation code (its last line).",
    )
    db_option(invite)
    invite.add_argument("--admin", action="store_true", help="the new user is a site admin")
    invite.add_argument(
        "--hours", type=_positive, default=168.0, help="how long it is valid (default 168: 7 days)"
    )
    invite.add_argument(
        "--group",
        action="append",
        default=[],
        type=_text,
        metavar="NAME",
        help="a group the new user joins (repeatable)",
    )
    invite.set_defaults(func=cmd_invite)
    charter = sub.add_parser(
        "charter", help="publish the usage charter", description="Publish the usage charter."
    )
    charter_sub = charter.add_subparsers(dest="charter_command", required=True, metavar="ACTION")
    charter_set = charter_sub.add_parser(
        "set",
        help="publish FILE (Markdown) as a new version",
        description="Publish FILE (Markdown, UTF-8) as a new version: every user accepts it"
        " before writing again.",
    )
    charter_set.add_argument("file", type=_text, help="the charter, a UTF-8 Markdown file")
    db_option(charter_set)
    charter_set.set_defaults(func=lambda a: _admin_command(a, "charter"))
    admin = sub.add_parser(
        "admin",
        help="make USER a site admin (--remove: no longer)",
        description="Make USER a site admin (--remove: no longer).",
    )
    admin.add_argument("user", type=_text, help="the user's name")
    admin.add_argument("--remove", action="store_true", help="take the site admin role away")
    db_option(admin)
    admin.set_defaults(func=lambda a: _admin_command(a, "admin"))
    badge = sub.add_parser(
        "badge",
        help="give USER a badge (none: take it away)",
        description="Give USER a badge (none: take it away).",
    )
    badge.add_argument("user", type=_text, help="the user's name")
    badge.add_argument("badge", choices=[*Badge.words(), "none"], help="the badge, or none")
    db_option(badge)
    badge.set_defaults(func=lambda a: _admin_command(a, "badge"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="rse-server: %(levelname)s %(message)s")
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"rse-server: {exc}", file=sys.stderr)
        return exc.code
    except AdminError as exc:
        print(f"rse-server: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.usage else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
