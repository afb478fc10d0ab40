"""rse-server: the WebSocket relay and SQLite store behind rse."""
