"""A corpus of realistic, distinct chat lines, generated reproducibly.

Ops chat is short lines about hosts, services, tickets and times; each line
here is built from such parts with a seeded generator, so the same seed gives
the same corpus and no two lines are the same string.
"""

from __future__ import annotations

import random

_WHO = [
    "db3",
    "api-gw",
    "the VPN",
    "ldap-2",
    "build farm",
    "the proxy",
    "kafka-7",
    "vault",
    "cdn edge",
    "mail relay",
    "grafana",
    "ci runner 12",
    "s3 bucket logs",
    "dns resolver",
]
_WHAT = [
    "is flapping again",
    "looks healthy now",
    "has 40% packet loss",
    "rejects logins",
    "is back after the restart",
    "needs a failover",
    "is at 93% disk",
    "paged twice",
    "shows 2 s p99 latency",
    "lost its replica",
    "has a cert expiring Friday",
    "was rolled back",
    "is throttling uploads",
    "answers 502 on /health",
]
_TAIL = [
    "since {t}",
    "per INC-{n}",
    "see the runbook",
    "can someone check?",
    "on it",
    "ETA {m} min",
    "ack",
    "after the {t} deploy",
    "only in building B",
    "for ~{m} users",
    "watching it",
    "will update at {t}",
    "@{u} fyi",
    "graph in the incident channel",
]
_USERS = ["camille", "karim", "lea", "tomas", "ines", "marc", "sofia", "noah"]


def lines(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        tail = rng.choice(_TAIL).format(
            t=f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            n=rng.randint(1000, 9999),
            m=rng.randint(2, 90),
            u=rng.choice(_USERS),
        )
        line = f"{rng.choice(_WHO)} {rng.choice(_WHAT)}, {tail}"
        if line in seen:
            line = f"{line} ({len(out)})"
        seen.add(line)
        out.append(line)
    return out
