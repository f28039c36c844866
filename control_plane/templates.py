"""Jinja2 rendering of compose_templates/ and monitoring/, safe by construction (pure).

No value can change a rendered document's structure:
- YAML templates (`*.yml.j2`): every `{{ … }}` is emitted as a JSON value, which is a valid YAML
  scalar or flow collection, so a value holding quotes, colons, `#` or newlines stays one value.
  Where a value must sit inside a key or inside a quoted string (a Traefik router name, a rule's
  host), the template writes `{{ x | token }}`: the value is checked against a grammar with no
  quoting or structural characters and then emitted verbatim.
- INI and HAProxy templates (`*.conf.j2`, `*.cfg.j2`): those formats have no escaping, so every
  value must be a token (or a number); anything else is refused before a file exists.
Every rendered YAML document is parsed back (`render_yaml` returns the data) and INI is parsed
with configparser, so a template bug fails here and never reaches a node.
"""
from __future__ import annotations

import configparser
import json
import re
from functools import lru_cache
from typing import Any

import yaml

from .paths import MONITORING_DIR, TEMPLATES_DIR

# Letters, digits and . _ - : / @ = + , starting with a letter, digit or '/'. Nothing that quotes,
# comments, nests, separates words or ends a line in YAML, INI or HAProxy's format.
TOKEN = re.compile(r"[A-Za-z0-9/][A-Za-z0-9._:/@=+-]*")


class TemplateValueError(ValueError):
    """A value that may not appear where the template puts it (a bug or a bad input that
    validation should have refused earlier)."""


class Token(str):
    """A string checked against TOKEN: emitted verbatim."""


def token(value: Any) -> Token:
    if isinstance(value, bool) or value is None:
        raise TemplateValueError(f"{value!r} is not a token")
    text = str(value)
    if not TOKEN.fullmatch(text):
        raise TemplateValueError(f"{text!r} is not a token: only letters, digits and ._:/@=+- "
                                 "may appear here")
    return Token(text)


def _yaml_finalize(value: Any) -> str:
    import jinja2

    if isinstance(value, jinja2.Undefined):
        return str(value)  # StrictUndefined: raises, naming the missing variable
    if isinstance(value, Token):
        return value
    return json.dumps(value, ensure_ascii=False)


def _token_finalize(value: Any) -> str:
    import jinja2

    if isinstance(value, jinja2.Undefined):
        return str(value)
    if isinstance(value, bool):
        return "y" if value else "n"  # pgBackRest's booleans; HAProxy templates use no booleans
    if isinstance(value, (int, float)):
        return str(value)
    return token(value)


@lru_cache(maxsize=2)
def _env(kind: str):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(TEMPLATES_DIR), str(MONITORING_DIR)]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False,
        finalize=_yaml_finalize if kind == "yaml" else _token_finalize)
    env.filters["token"] = token
    return env


def kind_of(name: str) -> str:
    if name.endswith((".yml.j2", ".yaml.j2")):
        return "yaml"
    if name.endswith((".conf.j2", ".cfg.j2", ".ini.j2")):
        return "tokens"
    raise TemplateValueError(f"no escaping is defined for template {name}")


def render(name: str, **context) -> str:
    """The rendered text, already parsed back (YAML) or checked (INI)."""
    text = _env(kind_of(name)).get_template(name).render(**context)
    if kind_of(name) == "yaml":
        yaml.safe_load(text)
    elif name.endswith((".conf.j2", ".ini.j2")):
        parse_ini(text)
    return text


def render_yaml(name: str, **context) -> tuple[str, Any]:
    """(text, data): the document and what a YAML parser reads from it."""
    text = render(name, **context)
    return text, yaml.safe_load(text)


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # pgBackRest keys are case-sensitive
    parser.read_string(text)
    return {s: dict(parser[s]) for s in parser.sections()}
