"""A corpus of realistic, distinct chat lines, generated reproducibly.

Ops chat is short lines about hosts, services, tickets and times; each line
here is built from such parts with a seeded generator, so the same seed gives
the same corpus and no two lines are the same string.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

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


# -- a mixed feed: chat, posts, comments and reactions ----------------------------------

_TOPICS = [
    "Postmortem",
    "Change window",
    "Runbook update",
    "Weekly ops notes",
    "Maintenance",
    "Capacity review",
    "On-call handover",
]
_WINDOWS = ["Tue 22:00", "Wed 06:00", "Thu 13:00", "Sat 10:00", "Sun 04:00"]
# Reaction words (rse_tui.protocol.Reaction), the way people use them: mostly +1.
_REACTIONS = ["+1"] * 6 + ["eyes", "eyes", "check", "check", "heart", "tada", "rocket", "-1"]


@dataclass(frozen=True, slots=True)
class Item:
    """One event of a mixed feed, with no protocol attached.

    ``kind`` is "c" (chat), "p" (post), "m" (comment) or "k" (reaction);
    ``target`` is the index in the list of the post a comment is on, or of
    the message (chat or post) a reaction is put on; ``text`` is a
    reaction's word. ``group`` and ``user`` number groups and people from
    0; a comment or a reaction is in its target's group.
    """

    kind: str
    text: str
    group: int = 0
    user: int = 0
    title: str | None = None
    ack: bool = False
    poll: tuple[str, ...] | None = None
    target: int = -1


def mixed(
    chat: int,
    posts: int,
    comments: int,
    reactions: int,
    *,
    groups: int = 1,
    people: int = 1,
    seed: int = 7,
) -> list[Item]:
    """A reproducible mixed feed, in the order it was written.

    Chat lines and comments come from the corpus; a post is 2-4 corpus lines
    as Markdown, 1 in 8 a poll and 1 in 8 an announcement to acknowledge
    (both titled), 3 in 5 of the others with a title. A comment is on one of
    its group's 20 latest posts; a reaction on one of its group's 50 latest
    messages, never the same word by the same person on the same message
    twice. Group 0 is the busiest (twice as much as each other one).
    """
    if (comments and not posts) or (reactions and not chat + posts):
        raise ValueError("comments need posts, and reactions messages")
    rng = random.Random(seed)
    texts = iter(lines(chat + comments + 4 * posts, seed=seed))
    left = {"c": chat, "p": posts, "m": comments, "k": reactions}
    weights = [2] + [1] * (groups - 1)
    latest_posts: list[list[int]] = [[] for _ in range(groups)]
    latest: list[list[int]] = [[] for _ in range(groups)]
    reacted: set[tuple[int, int, str]] = set()
    out: list[Item] = []
    while any(left.values()):
        kinds = [k for k, n in left.items() if n]
        kind = rng.choices(kinds, [left[k] for k in kinds])[0]
        targets = latest_posts if kind == "m" else latest
        able = [g for g in range(groups) if targets[g]] if kind in "mk" else list(range(groups))
        if not able:
            continue  # nothing to comment on or react to yet
        group = rng.choices(able, [weights[g] for g in able])[0]
        user = rng.randrange(people)
        left[kind] -= 1
        n = len(out)
        if kind == "c":
            out.append(Item("c", next(texts), group, user))
        elif kind == "p":
            body = [next(texts) for _ in range(rng.randint(2, 4))]
            text = body[0] + "\n\n" + "\n".join(f"- {line}" for line in body[1:])
            what = rng.random()
            if what < 1 / 8:
                title = f"When do we fail over {rng.choice(_WHO)}?"
                poll = tuple(rng.sample(_WINDOWS, rng.randint(2, 4)))
                out.append(Item("p", text, group, user, title, poll=poll))
            elif what < 2 / 8:
                title = f"Maintenance: {rng.choice(_WHO)} {rng.choice(_WINDOWS)}"
                out.append(Item("p", text, group, user, title, ack=True))
            elif rng.random() < 3 / 5:
                title = f"{rng.choice(_TOPICS)}: {rng.choice(_WHO)} {rng.choice(_WHAT)}"
                out.append(Item("p", text, group, user, title))
            else:
                out.append(Item("p", text, group, user))
            latest_posts[group] = [*latest_posts[group][-19:], n]
        elif kind == "m":
            out.append(Item("m", next(texts), group, user, target=rng.choice(targets[group])))
        else:
            for _ in range(50):
                target, word = rng.choice(targets[group]), rng.choice(_REACTIONS)
                if (target, user, word) not in reacted:
                    break
            else:
                raise ValueError("too many reactions for the messages: no new one found")
            reacted.add((target, user, word))
            out.append(Item("k", word, group, user, target=target))
        if kind in "cp":
            latest[group] = [*latest[group][-49:], n]
    return out
