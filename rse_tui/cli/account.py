"""``rse join``, ``rse login``, ``rse logout``: the profile's account, and the
password, invitation code and CA file they read."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from ..sync import account as accounts
from ..sync.connection import check_url, tls_context
from ..sync.profile import home
from .run import EXIT_OK, EXIT_QUEUED, EXIT_USAGE, CliError, notice


def _read_password(args: argparse.Namespace, confirm: bool) -> str:
    if args.password_stdin:
        line = sys.stdin.buffer.readline()
        try:
            password = line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise CliError("the password on standard input is not UTF-8 text", EXIT_USAGE) from None
        if not password:
            raise CliError("no password on standard input", EXIT_USAGE)
        return password
    if not _has_terminal():
        raise CliError(
            "no terminal to ask for the password on: pipe it with --password-stdin", EXIT_USAGE
        )
    try:
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Password (again): ") != password:
            raise CliError("the passwords differ", EXIT_USAGE)
    except EOFError:
        raise CliError("no password given", EXIT_USAGE) from None
    if not password:
        raise CliError("no password given", EXIT_USAGE)
    return password


def _has_terminal() -> bool:
    """Can getpass ask on a terminal (it uses /dev/tty, else standard input)?"""
    if os.name != "posix":
        return sys.stdin.isatty()
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return sys.stdin.isatty()
    return True


def _check_server(args: argparse.Namespace) -> None:
    """The address and CA file of join/login, checked before asking for a password."""
    check_url(args.url)
    if args.ca is None:
        return
    if not args.ca.is_file():
        what = "is a directory" if args.ca.is_dir() else "does not exist"
        raise CliError(f"the CA file {args.ca} {what}", EXIT_USAGE)
    import ssl

    try:
        tls_context(args.ca)
    except ssl.SSLError:
        raise CliError(f"the CA file {args.ca} holds no PEM certificate", EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"cannot read the CA file {args.ca}: {exc.strerror}", EXIT_USAGE) from None


def _read_code(args: argparse.Namespace) -> str:
    """The invitation code: an argument, or (``--code-stdin``) the first line of
    standard input, where ``ps`` and shell history do not show it."""
    if args.code_stdin == (args.code is not None):
        raise CliError("give the invitation code, or --code-stdin (not both)", EXIT_USAGE)
    if args.code is not None:
        return str(args.code)
    try:
        code = sys.stdin.buffer.readline().decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CliError("the code on standard input is not UTF-8 text", EXIT_USAGE) from None
    if not code:
        raise CliError("no invitation code on standard input", EXIT_USAGE)
    return code


async def cmd_join(args: argparse.Namespace) -> int:
    _check_server(args)
    code = _read_code(args)  # first line of standard input, before the password's
    password = _read_password(args, confirm=True)
    account, where = await accounts.join(
        home(), args.url, code, args.name, password, args.ca, notice
    )
    print(f"joined {args.url} as {account.settings.name}; token stored in {where}")
    return EXIT_OK


async def cmd_login(args: argparse.Namespace) -> int:
    _check_server(args)
    password = _read_password(args, confirm=False)
    account, where = await accounts.login(home(), args.url, args.name, password, args.ca, notice)
    print(f"logged in to {args.url} as {account.settings.name}; token stored in {where}")
    return EXIT_OK


async def cmd_logout(args: argparse.Namespace) -> int:
    account = accounts.load(home(), notice)
    if await accounts.logout(account, open_timeout=args.timeout):
        print(f"logged out of {account.settings.url}")
        return EXIT_OK
    notice(f"cannot reach {account.settings.url}; the token was forgotten here only")
    return EXIT_QUEUED
