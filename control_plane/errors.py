"""Typed errors: raised by services, sent as JSON by the API, re-raised by the CLI client.

Each carries a code and one sentence that says what is wrong and how to fix it.
"""
from __future__ import annotations


class SentinelError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(SentinelError):
    code = "invalid_input"
    status = 422


class NotFound(SentinelError):
    code = "not_found"
    status = 404


class Conflict(SentinelError):
    code = "conflict"
    status = 409


class Busy(SentinelError):
    code = "busy"
    status = 409


class Unauthorized(SentinelError):
    code = "unauthorized"
    status = 401


class Precondition(SentinelError):
    """The machine is not ready: Docker missing, a port taken, and the like."""

    code = "precondition"
    status = 412


class CommandFailed(SentinelError):
    code = "command_failed"
    status = 500
