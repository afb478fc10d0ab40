"""``python -m bench.soak``: one soak, its figures, and every violation found."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from .run import Soak


async def soak(seed: int, seconds: float, users: int) -> tuple[list[str], Soak]:
    with tempfile.TemporaryDirectory() as tmp:
        run = Soak(seed, seconds, users, Path(tmp))
        try:
            problems = await run.run()
        finally:
            await run.close()
    return problems, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "big"))
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--users", type=int, default=4)
    args = parser.parse_args(argv)
    if not 2 <= args.users <= 8:
        parser.error("--users: from 2 to 8")
    print(f"soak seed {args.seed}", flush=True)
    started = time.monotonic()
    problems, run = asyncio.run(soak(args.seed, args.minutes * 60, args.users))
    print(f"operations {sum(run.ops.values())}: {dict(sorted(run.ops.items()))}")
    print(f"faults {sum(run.faults.values())}: {dict(sorted(run.faults.items()))}")
    frames = sum(len(c.recorder.seen) for c in run.clients)
    print(f"frames checked {frames}; wall time {time.monotonic() - started:.0f} s")
    for p in problems:
        print("VIOLATION", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
