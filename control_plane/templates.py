"""Jinja2 rendering of compose_templates/ and monitoring/ (pure: text in, text out)."""
from __future__ import annotations

from functools import lru_cache

from .paths import MONITORING_DIR, TEMPLATES_DIR


@lru_cache(maxsize=1)
def _env():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(TEMPLATES_DIR), str(MONITORING_DIR)]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)


def render(name: str, **context) -> str:
    return _env().get_template(name).render(**context)
