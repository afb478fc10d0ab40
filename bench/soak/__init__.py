"""A seeded soak: a real server, real clients, random work under random faults,
then the delivery and confidentiality guarantees checked over everything.

    python -m bench.soak [--seed N] [--minutes 1] [--users 4]

The seed is printed first; the same seed draws the same schedule (what the
machine's timing does with it may differ). The server runs as its own
process (``rse-server serve``), killed with SIGKILL and started again on the
same file. Each user has the sync engine in this process (its own cache, its
own link: bench/linkproxy.py, one of them at 9.6 kbit/s), whose every
received frame is kept; two users also have real client processes on their
profile, killed with SIGKILL and started again: ``rse chat`` fed by a pipe,
and the app in a terminal with ``rse tail`` beside it.

Work (work.py): chat lines, replies, feed posts, direct messages, edits,
deletes, pins, new groups of every visibility, joins, leaves, requests and
approvals, members added and removed, and reads aimed at any group id (seen
or made up). Faults (run.py): links cut, down, stalled; engines stopped and
restarted; client processes and the server killed. Then quiescence, and
the checks (checks.py, frames.py).
"""
