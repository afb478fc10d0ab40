"""Who a message calls: ``@name`` in any case, or everyone with ``@here``/``@all``.

Standard library only: the sync layer uses it to raise alerts and count
mentions, the UI to highlight them.
"""

from __future__ import annotations

import re

#: Words that call every member of the group the message is in.
EVERYONE = ("here", "all", "channel")


def mention_pattern(name: str) -> re.Pattern[str]:
    """A pattern that finds the mentions of ``name`` (and of everyone) in a text."""
    who = "|".join(re.escape(w) for w in (name, *EVERYONE) if w)
    return re.compile(rf"(?<![\w@])@(?:{who})(?![\w-])", re.IGNORECASE)
