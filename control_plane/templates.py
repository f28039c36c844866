"""Jinja2 rendering of compose_templates/ and monitoring/, safe by construction (pure).

No value can change a rendered document's structure:
- YAML templates (`*.yml.j2`): every `{{ … }}` is emitted as a JSON value, which is a valid YAML
  scalar or flow collection, so a value holding quotes, colons, `#` or newlines stays one value.
  Where a value must sit inside a key or inside a quoted string (a Traefik router name, a rule's
  host), the template writes `{{ x | token }}`: the value is checked against a grammar with no
  quoting or structural characters and then emitted verbatim.
- INI and HAProxy templates (`*.conf.j2`, `*.cfg.j2`): those formats have no escaping, so every
  value must be a token (or a number); anything else is refused before a file exists.
- Dockerfile templates (`*.Dockerfile.j2`): every value is a JSON string (ASCII, so no raw line
  break of any kind), which templates place only where Dockerfile's exec form reads JSON
  (`CMD ["sh", "-c", {{ web }}]`); image names and package names go through `| token`. Such
  templates may call macros: autoescape marks a macro's output, which alone passes verbatim.
Every rendered YAML document is parsed back (`render_yaml` returns the data), INI is parsed
with configparser and a Dockerfile with `parse_dockerfile` (known instructions only, exec forms
valid JSON), so a template bug fails here and never reaches a node.
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


def _dockerfile_finalize(value: Any) -> str:
    import jinja2
    import markupsafe

    if isinstance(value, jinja2.Undefined):
        return str(value)
    if isinstance(value, markupsafe.Markup):
        return value  # a macro's output: the template's own text (autoescape marks it so)
    if isinstance(value, Token):
        return markupsafe.Markup(value)
    # ASCII: a value can hold no line break (\n, \r, U+0085, U+2028…) that could end a line.
    return markupsafe.Markup(json.dumps(value, ensure_ascii=True))


_FINALIZE = {"yaml": _yaml_finalize, "tokens": _token_finalize, "dockerfile": _dockerfile_finalize}


@lru_cache(maxsize=3)
def _env(kind: str):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(TEMPLATES_DIR), str(MONITORING_DIR)]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=kind == "dockerfile",
        finalize=_FINALIZE[kind])
    env.filters["token"] = token
    return env


def kind_of(name: str) -> str:
    if name.endswith((".yml.j2", ".yaml.j2")):
        return "yaml"
    if name.endswith((".conf.j2", ".cfg.j2", ".ini.j2")):
        return "tokens"
    if name.endswith(".Dockerfile.j2"):
        return "dockerfile"
    raise TemplateValueError(f"no escaping is defined for template {name}")


def render(name: str, **context) -> str:
    """The rendered text, already parsed back (YAML) or checked (INI)."""
    text = _env(kind_of(name)).get_template(name).render(**context)
    if kind_of(name) == "yaml":
        yaml.safe_load(text)
    elif name.endswith((".conf.j2", ".ini.j2")):
        parse_ini(text)
    elif kind_of(name) == "dockerfile":
        parse_dockerfile(text)
    elif name.startswith("keepalived"):
        parse_blocks(text)
    return text


def render_yaml(name: str, **context) -> tuple[str, Any]:
    """(text, data): the document and what a YAML parser reads from it."""
    text = render(name, **context)
    return text, yaml.safe_load(text)


_BLOCK_WORD = re.compile(r'"[^"\n]*"|[{}]|[^\s{}"]+')


def parse_blocks(text: str) -> list:
    """keepalived's format, parsed back: `key args… { … }` per line, as nested lists
    ([key, args…] or [key, args…, [children]]). Unbalanced braces or quotes raise."""
    stack: list[list] = [[]]
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("#", "!")):
            continue  # keepalived's comments take whole lines
        if line.count('"') % 2:
            raise TemplateValueError(f"line {number}: an unclosed quote")
        words = _BLOCK_WORD.findall(line)
        if not words:
            continue
        if words == ["}"]:
            if len(stack) == 1:
                raise TemplateValueError(f"line {number}: a brace closes nothing")
            stack.pop()
            continue
        if "}" in words or words.count("{") > 1 or ("{" in words and words[-1] != "{"):
            raise TemplateValueError(f"line {number}: one block opens or closes per line")
        entry = [w for w in words if w != "{"]
        stack[-1].append(entry)
        if words[-1] == "{":
            entry.append([])
            stack.append(entry[-1])
    if len(stack) != 1:
        raise TemplateValueError("a block is not closed")
    return stack[0]


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # pgBackRest keys are case-sensitive
    parser.read_string(text)
    return {s: dict(parser[s]) for s in parser.sections()}


DOCKERFILE_INSTRUCTIONS = frozenset({
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER"})
# Where Docker reads `[...]` as a JSON array (and silently falls back to shell form otherwise).
_EXEC_FORM = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "VOLUME", "COPY", "ADD"})


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, as Docker's parser splits them (default escape
    `\\`, continuation lines, comment lines); refuses an unknown instruction or an exec form
    that is not a JSON array of strings."""
    out: list[tuple[str, str]] = []
    pending: list[str] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not pending and not stripped:
            continue
        if stripped.startswith("#"):
            continue  # a comment, also between continuation lines (Docker drops those too)
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            if number < len(lines):
                continue
        else:
            pending.append(line)
        joined = "".join(pending).strip()
        pending = []
        if not joined:
            continue
        word, _, rest = joined.partition(" ")
        instruction = word.upper()
        if instruction not in DOCKERFILE_INSTRUCTIONS:
            raise TemplateValueError(f"line {number} of the Dockerfile starts with {word!r}, "
                                     "which is not a Dockerfile instruction")
        rest = rest.strip()
        if instruction in _EXEC_FORM:
            # COPY/ADD may put --flags before the array.
            array = re.sub(r"^(?:--\S+\s+)*", "", rest) if instruction in ("COPY", "ADD") else rest
            if array.startswith("["):
                try:
                    items = json.loads(array)
                except ValueError:
                    items = None
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    raise TemplateValueError(f"line {number} of the Dockerfile: {instruction}'s "
                                             "exec form is not a JSON array of strings")
        out.append((instruction, rest))
    return out
