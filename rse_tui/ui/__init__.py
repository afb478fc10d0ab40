"""The Textual client: renders the cache, sends through the sync engine."""
