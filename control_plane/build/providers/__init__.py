"""Providers: one small module per kind of app, each a `Provider` record (data, not a chain of ifs).

A provider says which files it looks for, how it recognises a source (`detect`), which Debian
packages its image needs and which template (compose_templates/build/<name>.Dockerfile.j2)
turns its `Detection` into a Dockerfile. `PROVIDERS` is tried in order: the first detection wins.

Adding a provider: a module here with `PROVIDER = Provider(...)`, its template, a line in
`PROVIDERS` (before `static`, which accepts anything with an index.html).
"""
from __future__ import annotations

from . import dockerfile, go, node, python, static
from .base import Detection, NoProviderFound, NoStartCommand, Provider

# Order is precedence: a Dockerfile wins; Go and Python before Node, since their apps often keep a
# package.json for front-end tooling (Railpack's order too); a bare index.html comes last.
PROVIDERS: tuple[Provider, ...] = (dockerfile.PROVIDER, go.PROVIDER, python.PROVIDER,
                                   node.PROVIDER, static.PROVIDER)

__all__ = ["PROVIDERS", "Detection", "NoProviderFound", "NoStartCommand", "Provider"]
