"""The headless client core: connection, sync engine, local cache.

Nothing under this package imports Textual; the UI builds on it, and scripts
and tests use it directly.
"""
