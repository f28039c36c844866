"""Removing an app whole: its routes, its database members (stopped in order), its stack and
network, then (unless kept) its data. Used by a delete and by whatever undoes a half-made app
(a failed first deploy, a failed restore into a copy, a release check's scratch copy)."""
from __future__ import annotations

from ..errors import CommandFailed
from .copies import CopyService
from .database import DatabaseService
from .routes import Routes
from .stack import Stack
from ..records import App


class Teardown:
    def __init__(self, stack: Stack, routes: Routes, db: DatabaseService, copies: CopyService):
        self.stack = stack
        self.routes = routes
        self.db = db
        self.copies = copies

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
        if app.db:
            # Before the stack: the copy source is on the app's network, which goes with it. It
            # holds nothing the repository does not (kept data or not, it goes).
            self.copies.remove(name)
        self.stack.remove(name)
        if app.db:
            self.db.drop(app, keep_data)
