"""Every refusal in one body, {"error": {"code", "message"}}: the services' typed errors,
FastAPI's own (a body that is not JSON, an unknown path), and an answer that does not fit its
response model (a bug here: the details go to the log, one sentence to the client)."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import ResponseValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import SentinelError

log = logging.getLogger("sentinel.api")
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
OFF_CONTRACT = ("the control plane's answer did not fit its own API contract (a bug): its log "
                "says which field.")


def body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def sentence(text: str) -> str:
    """FastAPI's details end without a full stop ("There was an error parsing the body")."""
    text = text.strip() or "the request was refused"
    return text if text.endswith((".", "!", "?")) else text + "."


def install(api: FastAPI) -> None:
    @api.exception_handler(SentinelError)
    async def _sentinel_error(_: Request, e: SentinelError):
        return JSONResponse(body(e.code, e.message), status_code=e.status)

    @api.exception_handler(HTTPException)
    async def _http_error(_: Request, e: HTTPException):
        return JSONResponse(body(HTTP_CODES.get(e.status_code, "error"), sentence(str(e.detail))),
                            status_code=e.status_code, headers=getattr(e, "headers", None))

    @api.exception_handler(ResponseValidationError)
    async def _off_contract(request: Request, e: ResponseValidationError):
        # Where and what only: the values may be anything the service held (never logged).
        where = [(".".join(map(str, x.get("loc", ()))), x.get("msg")) for x in e.errors()[:5]]
        log.error("%s %s answered off its contract: %s", request.method, request.url.path, where)
        return JSONResponse(body("internal", OFF_CONTRACT), status_code=500)
