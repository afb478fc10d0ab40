"""Cold start to first paint of the app from a 50,000-message cache, no network.

    python -m bench.first_paint [--messages 50000] [--runs 7]

Builds a profile cache once (one group, N chat messages from the corpus),
then starts the real app N times in fresh processes, headless, with the
server address pointing at a closed port, and measures from process spawn
to the first painted screen, and the peak RSS of each process. Prints the
median and the spread.

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

from rse_tui.protocol import ChatEvent, GroupEvent, JoinEvent, UserInfo
from rse_tui.sync.cache import Cache

from .corpus import lines

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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.db"
        build_cache(cache, args.messages)
        for package in ("rse_tui", "bench"):
            compileall.compile_dir(ROOT / package, quiet=1)
        one_run(cache)  # warm the OS file cache
        runs = [one_run(cache) for _ in range(args.runs)]
    times = sorted(r[0] * 1000 for r in runs)
    rss = sorted(r[1] for r in runs)
    result = {
        "figure": "cold start to first paint",
        "messages_cached": args.messages,
        "rows_painted": runs[0][2],
        "runs": args.runs,
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(times[0], 1),
        "max_ms": round(times[-1], 1),
        "median_rss_mb": round(statistics.median(rss), 1),
    }
    print(
        f"first paint from {args.messages:,} cached messages: median {result['median_ms']} ms"
        f" (min {result['min_ms']}, max {result['max_ms']}, {args.runs} runs),"
        f" peak RSS median {result['median_rss_mb']} MB"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
