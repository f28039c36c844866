"""The web console at /console: static pages (static/) whose scripts call the same /v1 API as
the CLI, signed in by a session cookie (sessions.py) limited to the routes they use (access.py)."""
