"""``python -m bench.soak``: one soak, its figures, and every violation found."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

from .run import Soak


async def soak(
    seed: int, seconds: float, users: int, keep: Path | None = None
) -> tuple[list[str], Soak]:
    """One soak in a temporary directory, or in ``keep`` (kept, to look into)."""
    with contextlib.ExitStack() as stack:
        if keep is None:
            keep = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        keep.mkdir(parents=True, exist_ok=True)
        run = Soak(seed, seconds, users, keep)
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
    parser.add_argument(
        "--keep", type=Path, help="run in this directory and keep it (server file, caches, log)"
    )
    args = parser.parse_args(argv)
    if not 2 <= args.users <= 8:
        parser.error("--users: from 2 to 8")
    print(f"soak seed {args.seed}", flush=True)
    started = time.monotonic()
    problems, run = asyncio.run(soak(args.seed, args.minutes * 60, args.users, args.keep))
    print(f"operations {sum(run.ops.values())}: {dict(sorted(run.ops.items()))}")
    print(f"faults {sum(run.faults.values())}: {dict(sorted(run.faults.items()))}")
    frames = sum(len(c.recorder.seen) for c in run.clients)
    print(f"frames checked {frames}; wall time {time.monotonic() - started:.0f} s")
    for p in problems:
        print("VIOLATION", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
