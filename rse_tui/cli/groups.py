"""``rse group ...`` (create, join, leave, list, tree, members, and a
moderator's request/approve/add/remove), ``rse directory`` and ``rse charter``:
groups and their governance."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from rse_tui.protocol import Badge, PostPolicy

from ..sync.client import Client
from ..sync.models import GroupRow
from .run import EXIT_FAILED, EXIT_OK, EXIT_QUEUED, CliError, notice, running

#: A write about one group (join, leave, ask), or about one person in one group.
Membership = Callable[[Client, int], Awaitable[str]]
Moderation = Callable[[Client, int, int], Awaitable[str]]


async def cmd_group(args: argparse.Namespace) -> int:
    handler = GROUP_COMMANDS[args.group_command]
    return await handler(args)


async def cmd_group_create(args: argparse.Namespace) -> int:
    async with running(args) as run:
        settings: dict[str, object] = {
            "visibility": args.visibility,
            "post_policy": args.post_policy,
            "chat_policy": args.chat_policy,
        }
        if args.description:
            settings["description"] = args.description
        if args.parent:
            settings["parent"] = (await run.group(args.parent)).group
        await run.queue(run.client.create_group(args.name, **settings))
        return await run.deliver()


async def _moderate(args: argparse.Namespace, write: Moderation) -> int:
    async with running(args) as run:
        group = await run.group(args.name)
        user = await run.user(args.user)
        await run.queue(write(run.client, group.group, user))
        return await run.deliver()


async def cmd_group_request(args: argparse.Namespace) -> int:
    return await _membership(args, Client.ask_to_join)


async def cmd_group_approve(args: argparse.Namespace) -> int:
    return await _moderate(args, Client.approve)


async def cmd_group_add(args: argparse.Namespace) -> int:
    return await _moderate(
        args, lambda client, group, user: client.add_member(group, user, moderator=args.moderator)
    )


async def cmd_group_remove(args: argparse.Namespace) -> int:
    return await _moderate(args, Client.remove_member)


def _tag(row: GroupRow) -> str:
    parts = [row.visibility]
    if row.member:
        parts.append("member")
    if row.moderator:
        parts.append("moderator")
    if row.requested:
        parts.append("requested")
    if row.post_policy == PostPolicy.MODERATORS:
        parts.append("announcements")
    if row.pending:
        parts.append(f"{row.pending} requests")
    return ", ".join(parts)


async def cmd_group_tree(args: argparse.Namespace) -> int:
    async with running(args) as run:
        fresh = await run.online()
        if fresh:
            await run.client.refresh_groups()
        rows = [r for r in await run.client.groups() if r.dm is None]
        known = {r.group for r in rows}
        children: dict[int | None, list[GroupRow]] = {}
        for row in rows:
            children.setdefault(row.parent if row.parent in known else None, []).append(row)

        def show(parent: int | None, depth: int) -> None:
            for row in sorted(children.get(parent, []), key=lambda r: r.name.casefold()):
                print(f"{'  ' * depth}{run.glyphs.line(row.name)}  ({_tag(row)})")
                show(row.group, depth + 1)

        show(None, 0)
        if not fresh:
            notice(f"{run.unreachable()}; showing the cached tree")
            return EXIT_QUEUED
        return EXIT_OK


async def _membership(args: argparse.Namespace, write: Membership) -> int:
    async with running(args) as run:
        group = await run.group(args.name)
        await run.queue(write(run.client, group.group))
        return await run.deliver()


async def cmd_group_join(args: argparse.Namespace) -> int:
    return await _membership(args, Client.join)


async def cmd_group_leave(args: argparse.Namespace) -> int:
    return await _membership(args, Client.leave)


async def cmd_group_list(args: argparse.Namespace) -> int:
    async with running(args) as run:
        fresh = await run.online()
        if fresh:
            await run.client.refresh_groups()
        for g in await run.client.groups():
            if g.dm is not None:
                continue
            mark = "*" if g.member else " "
            count = "1 member" if g.members == 1 else f"{g.members} members"
            if not g.members_shown:
                count = "private: members and count for members"
            print(f"{mark} {run.glyphs.line(g.name)}\t{count}")
        if not fresh:
            notice(f"{run.unreachable()}; showing the cached list")
            return EXIT_QUEUED
        return EXIT_OK


async def cmd_group_members(args: argparse.Namespace) -> int:
    async with running(args) as run:
        group = await run.group(args.name)
        if not await run.online():
            raise CliError(run.unreachable(), EXIT_QUEUED)
        users = await run.client.members(group.group)
        for name in sorted(run.glyphs.line(u.name) for u in users):
            print(name)
        return EXIT_OK


async def cmd_directory(args: argparse.Namespace) -> int:
    async with running(args) as run:
        if not await run.online():
            raise CliError(run.unreachable(), EXIT_QUEUED)
        badge = Badge.AMBASSADOR if args.ambassadors else None
        found = await run.client.directory(args.query or "", badge)
        await run.client.refresh_groups()
        names = {r.group: r.name for r in await run.client.groups()}
        line, dash = run.glyphs.line, run.glyphs.dash
        if not found:
            notice("nobody matches" + (f" {line(args.query)[:40]!r}" if args.query else ""))
        for entry in found:
            mark = " [ambassador]" if entry.badge == Badge.AMBASSADOR else ""
            title = f" {dash} {line(entry.title)}" if entry.title else ""
            groups = ", ".join(line(names.get(g, f"#{g}")) for g in entry.groups)
            print(f"{line(entry.name)}{mark}{title}" + (f"  ({groups})" if groups else ""))
        return EXIT_OK


async def cmd_charter(args: argparse.Namespace) -> int:
    async with running(args) as run:
        if not await run.online():
            raise CliError(run.unreachable(), EXIT_QUEUED)
        charter = await run.client.charter()
        if charter.version == 0:
            print("no usage charter has been published")
            return EXIT_OK
        print(run.glyphs.text(charter.text).rstrip())
        print()
        if args.accept:
            await run.client.accept_charter(charter.version)
            print(f"accepted the usage charter, version {charter.version}")
            return await run.deliver()
        if charter.accepted >= charter.version:
            print(f"you accepted version {charter.version}")
            return EXIT_OK
        print(f"version {charter.version} is not accepted yet: rse charter --accept")
        return EXIT_FAILED


GROUP_COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "create": cmd_group_create,
    "join": cmd_group_join,
    "leave": cmd_group_leave,
    "list": cmd_group_list,
    "members": cmd_group_members,
    "request": cmd_group_request,
    "approve": cmd_group_approve,
    "add": cmd_group_add,
    "remove": cmd_group_remove,
    "tree": cmd_group_tree,
}
