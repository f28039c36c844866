"""Removing an app whole: its routes, its database members (stopped in order), its stack and
network, then (unless kept) its data. Used by a delete and by whatever undoes a half-made app
(a failed first deploy, a failed restore into a copy, a release check's scratch copy)."""
from __future__ import annotations

from ..errors import CommandFailed
from .database import DatabaseService
from .routes import Routes
from .stack import Stack
from ..records import App


class Teardown:
    def __init__(self, stack: Stack, routes: Routes, db: DatabaseService):
        self.stack = stack
        self.routes = routes
        self.db = db

    def remove(self, app: App, keep_data: bool) -> None:
        name = app.name
        self.routes.remove(name)
        if app.db:
            # Members stopped first (standbys, then the primary) and only then the stack: a
            # member still running would write its cluster's keys back into etcd after they are
            # removed, and a new app of the same name would wait for that old cluster.
            try:
                self.db.stop_all(app.changed(), None, removing=True)  # a copy: stop_all marks members
            except CommandFailed:
                pass
        self.stack.remove(name)
        if app.db:
            self.db.drop(app, keep_data)
