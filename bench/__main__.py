"""``python -m bench``: run every benchmark and print its figures."""

from __future__ import annotations

from . import first_paint


def main() -> None:
    first_paint.main([])


if __name__ == "__main__":
    main()
