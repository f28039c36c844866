"""Every refusal in one body, {"error": {"code", "message"}}: the services' typed errors,
FastAPI's own (a body that is not JSON, an unknown path, a body or query that does not fit its
model: one sentence naming the first problem and where it is), and an answer that does not fit
its response model (a bug here: the details go to the log, one sentence to the client)."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
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


# Where a request's part is named for a user: "body.replicas", "query parameter live".
_PLACES = {"query": "query parameter", "path": "path parameter", "header": "header"}


def invalid_request(errors: list[dict]) -> str:
    """One sentence for the first problem of a request that does not fit its model."""
    if not errors:
        return "the request does not fit the API's contract."
    err = errors[0]
    loc = [str(x) for x in err.get("loc", ())]
    if err.get("type") == "json_invalid":
        return "the request body is not valid JSON: check its quoting and commas."
    if loc and loc[0] in _PLACES and len(loc) > 1:
        where = f"{_PLACES[loc[0]]} {'.'.join(loc[1:])}"
    else:
        where = ".".join(loc) or "the request"
    msg = str(err.get("msg", "is invalid"))
    # pydantic's "Value error, <ours>" wraps a validator's own sentence.
    msg = msg.removeprefix("Value error, ")
    return sentence(f"{where}: {msg[:1].lower() + msg[1:]}")


def install(api: FastAPI) -> None:
    @api.exception_handler(SentinelError)
    async def _sentinel_error(_: Request, e: SentinelError):
        return JSONResponse(body(e.code, e.message), status_code=e.status)

    @api.exception_handler(HTTPException)
    async def _http_error(_: Request, e: HTTPException):
        return JSONResponse(body(HTTP_CODES.get(e.status_code, "error"), sentence(str(e.detail))),
                            status_code=e.status_code, headers=getattr(e, "headers", None))

    @api.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, e: RequestValidationError):
        return JSONResponse(body("invalid_input", invalid_request(list(e.errors()))), status_code=422)

    @api.exception_handler(ResponseValidationError)
    async def _off_contract(request: Request, e: ResponseValidationError):
        # Where and what only: the values may be anything the service held (never logged).
        where = [(".".join(map(str, x.get("loc", ()))), x.get("msg")) for x in e.errors()[:5]]
        log.error("%s %s answered off its contract: %s", request.method, request.url.path, where)
        return JSONResponse(body("internal", OFF_CONTRACT), status_code=500)
