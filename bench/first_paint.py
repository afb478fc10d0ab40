"""Cold start to first paint of the app from a 50,000-message cache, no network.

    python -m bench.first_paint [--messages 50000] [--runs 7] [--mixed 50000]

Builds a profile cache once (one group, N chat messages from the corpus),
then starts the real app N times in fresh processes, headless, with the
server address pointing at a closed port, and measures from process spawn
to the first painted screen, and the peak RSS of each process. Prints the
median and the spread.

With ``--mixed N``, the same from a second cache of N items of a mixed feed
(bench.corpus.mixed) from 40 people in six groups: 60% chat messages, 10%
posts (titles, Markdown, polls, announcements), 20% comments and 10%
reactions, applied through the cache's reducer as the server's events.
The app opens the chat of the busiest group, as it opens the plain
cache's; the first run marks it read, as it does the plain cache's only
group, and the five others stay unread (about 32,000 lines for the group
list's unread and mention counts). Its runs alternate with the plain
cache's, and the figure's ratio is to their median (same run).

The app's modules are byte-compiled first, as an installation leaves them
(pip compiles at install; a checkout run with PYTHONDONTWRITEBYTECODE would
otherwise compile them again at every start).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rse_tui.protocol import (
    ChatEvent,
    CommentEvent,
    Event,
    GroupEvent,
    JoinEvent,
    Poll,
    PostEvent,
    ReactEvent,
    UserInfo,
)
from rse_tui.sync.cache import Cache

from .corpus import lines, mixed

ROOT = Path(__file__).resolve().parent.parent
CLOSED = "ws://127.0.0.1:9/"  # the discard port: nothing listens there


def build_cache(path: Path, messages: int) -> None:
    cache = Cache(path)
    cache.set_identity(1, "ana")
    cache.apply(
        [
            GroupEvent(seq=1, group=1, user=2, ts=1_790_000_000, name="Incidents"),
            JoinEvent(seq=2, group=1, user=1),
        ]
    )
    cache.put_users([UserInfo(user=u, name=f"user{u}") for u in range(2, 10)])
    texts = lines(messages)
    batch = []
    for n, text in enumerate(texts):
        batch.append(
            ChatEvent(seq=10 + n, group=1, user=2 + n % 8, ts=1_790_000_000 + n, text=text)
        )
        if len(batch) == 5000:
            cache.apply(batch)
            batch = []
    cache.apply(batch)
    cache.set("ui.group", 1)
    cache.close()


MIXED_GROUPS = ["Incidents", "General", "Platform", "Releases", "Security", "Databases"]
MIXED_PEOPLE = 40


def mixed_share(items: int) -> dict[str, int]:
    """``items`` as 60% chat, 10% posts, 20% comments, 10% reactions."""
    posts, comments, reactions = items // 10, items // 5, items // 10
    return {
        "chat": items - posts - comments - reactions,
        "posts": posts,
        "comments": comments,
        "reactions": reactions,
    }


def build_mixed_cache(path: Path, items: int) -> dict[str, int]:
    """A cache of ``items`` events of a mixed feed in six groups, stored by
    the cache's own reducer (``Cache.apply``) as the server's events would
    be; the app is set to open the busiest group (Incidents). Returns the
    count of each kind."""
    cache = Cache(path)
    cache.set_identity(1, "ana")
    head: list[Event] = []
    for n, name in enumerate(MIXED_GROUPS):
        head.append(GroupEvent(seq=1 + 2 * n, group=n + 1, user=2, ts=1_790_000_000, name=name))
        head.append(JoinEvent(seq=2 + 2 * n, group=n + 1, user=1))
    cache.apply(head)
    cache.put_users([UserInfo(user=u, name=f"user{u}") for u in range(2, 2 + MIXED_PEOPLE)])
    share = mixed_share(items)
    feed = mixed(**share, groups=len(MIXED_GROUPS), people=MIXED_PEOPLE)
    first = 100
    batch: list[Event] = []
    for n, item in enumerate(feed):
        common = {"seq": first + n, "group": item.group + 1, "user": 2 + item.user}
        ts = 1_790_000_000 + n
        if item.kind == "c":
            batch.append(ChatEvent(**common, ts=ts, text=item.text))
        elif item.kind == "p":
            poll = Poll(options=list(item.poll)) if item.poll else None
            batch.append(
                PostEvent(
                    **common, ts=ts, text=item.text, title=item.title, ack=item.ack, poll=poll
                )
            )
        elif item.kind == "m":
            batch.append(CommentEvent(**common, ts=ts, text=item.text, post=first + item.target))
        else:
            batch.append(ReactEvent(**common, target=first + item.target, emoji=item.text))
        if len(batch) == 5000:
            cache.apply(batch)
            batch = []
    cache.apply(batch)
    cache.set("ui.group", 1)
    cache.close()
    return share


def one_run(cache: Path) -> tuple[float, float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.paint_child", str(cache), CLOSED],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    _, status, usage = os.wait4(proc.pid, 0)
    if not line.startswith("painted"):
        raise RuntimeError(f"child failed: {line!r} status {status}")
    return elapsed, usage.ru_maxrss / 1024, int(line.split()[1])


def summary(runs: list[tuple[float, float, int]]) -> dict[str, Any]:
    times = sorted(r[0] * 1000 for r in runs)
    rss = sorted(r[1] for r in runs)
    return {
        "rows_painted": runs[0][2],
        "runs": len(runs),
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(times[0], 1),
        "max_ms": round(times[-1], 1),
        "median_rss_mb": round(statistics.median(rss), 1),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--mixed", type=int, default=0, help="items of a mixed cache (0: none)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.db"
        build_cache(cache, args.messages)
        other = Path(tmp) / "mixed.db"
        share = build_mixed_cache(other, args.mixed) if args.mixed else {}
        for package in ("rse_tui", "bench"):
            compileall.compile_dir(ROOT / package, quiet=1)
        one_run(cache)  # warm the OS file cache
        plain: list[tuple[float, float, int]] = []
        mixed_runs: list[tuple[float, float, int]] = []
        if args.mixed:
            one_run(other)
        for _ in range(args.runs):  # alternated: both see the same machine
            plain.append(one_run(cache))
            if args.mixed:
                mixed_runs.append(one_run(other))
    result: dict[str, Any] = {
        "figure": "cold start to first paint",
        "messages_cached": args.messages,
        **summary(plain),
    }
    print(
        f"first paint from {args.messages:,} cached messages: median {result['median_ms']} ms"
        f" (min {result['min_ms']}, max {result['max_ms']}, {args.runs} runs),"
        f" peak RSS median {result['median_rss_mb']} MB"
    )
    if args.mixed:
        mix = {"items_cached": args.mixed, "mix": share, **summary(mixed_runs), "target_ms": 400}
        mix["ratio_to_chat"] = round(mix["median_ms"] / result["median_ms"], 2)
        result["mixed"] = mix
        words = ", ".join(f"{n:,} {what}" for what, n in share.items())
        print(
            f"first paint from {args.mixed:,} cached items, mixed ({words};"
            f" {len(MIXED_GROUPS)} groups): median {mix['median_ms']} ms"
            f" (min {mix['min_ms']}, max {mix['max_ms']}, {args.runs} runs),"
            f" {mix['ratio_to_chat']}x the chat-only cache's, peak RSS median"
            f" {mix['median_rss_mb']} MB; target <= 400 ms"
            f" {'ok' if mix['median_ms'] <= 400 else 'MISSED'}"
        )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
