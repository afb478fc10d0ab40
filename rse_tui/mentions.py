"""Who a message calls: ``@name`` in any case, or everyone with ``@here``/``@all``.

Standard library only: the sync layer uses it to raise alerts and count
mentions, the UI to highlight them.
"""

from __future__ import annotations

import re

#: Words that call every member of the group the message is in.
EVERYONE = ("here", "all", "channel")


def mention_pattern(name: str, groups: tuple[str, ...] = ()) -> re.Pattern[str]:
    """A pattern that finds the mentions of ``name``, of everyone, and of the
    ``groups`` (one's own: ``@ops-oncall`` calls its members) in a text. A
    group's name is written with ``-`` or ``_`` for its spaces, or as is."""
    words = [re.escape(w) for w in (name, *EVERYONE) if w]
    words += [r"[\s_-]".join(re.escape(part) for part in g.split()) for g in groups if g.split()]
    who = "|".join(sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w@])@(?:{who})(?![\w-])", re.IGNORECASE)
