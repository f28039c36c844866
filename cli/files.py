"""Files the user names on the command line (schema, SQL, manifest), read before any call."""
from __future__ import annotations

from pathlib import Path

from .output import fail


def read_file(path: str, what: str) -> str:
    p = Path(path)
    if not p.is_file():
        fail(f"{what} {path} does not exist: give the path of a readable file.")
    try:
        return p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        fail(f"{what} {path} cannot be read ({e.__class__.__name__}): give a UTF-8 text file.")
