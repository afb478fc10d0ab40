"""One cold start of the app on a cache, printing "painted N" at its first paint.

Run by bench.first_paint in a fresh process: ``python -m bench.paint_child CACHE URL``.
"""

import sys
from pathlib import Path

from textual import events

from rse_tui.sync.cache import Cache
from rse_tui.sync.engine import Backoff, Engine
from rse_tui.ui.app import RseApp


class Timed(RseApp):
    async def on_mount(self, event: events.Mount) -> None:
        # Textual calls each class's handler in turn, base classes' too: the
        # app's own on_mount runs here, once (it ran twice, measured twice).
        event.prevent_default()
        await super().on_mount()  # the cache's content is in the widgets now
        self.call_after_refresh(self.painted)  # ... and this runs once it is on screen

    def painted(self) -> None:
        print(f"painted {len(self.timeline.rows)}", flush=True)
        self.exit(0)


engine = Engine(
    Cache(Path(sys.argv[1])), url=sys.argv[2], token="1.x", backoff=Backoff(first=600, cap=600)
)
Timed(engine, "ana").run(headless=True, size=(120, 40))
