"""The CLI's HTTP client against a real local HTTP server: JSON, typed errors, validation
answers, kept-alive connections, streamed lines and a server that is not there."""
import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from cli.client import Client, ClientError, Conflict, ERRORS_BY_CODE, InvalidInput, Unreachable
from control_plane.api import error_body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    api = FastAPI()
    error_body.install(api)  # the control plane's own refusals

    @api.get("/ok")
    def ok(n: int = 1, tag: str | None = None):
        return {"n": n, "tag": tag}

    @api.post("/echo")
    def echo(body: dict):
        return body

    @api.get("/conflict")
    def conflict():
        return JSONResponse({"error": {"code": "conflict", "message": "busy: try again."}}, 409)

    @api.get("/lines")
    def lines():
        def gen():
            for i in range(3):
                yield f"line {i}\n"
                time.sleep(0.05)
        return StreamingResponse(gen(), media_type="text/plain")

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="error"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(5)


def test_json_query_and_body(server):
    c = Client(url=server, token="t")
    assert c.get("/ok", params={"n": 3, "tag": None}) == {"n": 3, "tag": None}
    assert c.post("/echo", {"a": [1, 2]}) == {"a": [1, 2]}
    first = c._conn
    assert c.get("/ok") == {"n": 1, "tag": None}
    assert c._conn is first  # kept alive: operation polling does not reconnect


def test_typed_errors_and_validation_answers_are_one_sentence(server):
    c = Client(url=server, token="t")
    with pytest.raises(Conflict) as e:
        c.get("/conflict")
    assert (e.value.code, e.value.message) == ("conflict", "busy: try again.")
    with pytest.raises(InvalidInput) as e:
        c.get("/ok", params={"n": "many"})
    assert (e.value.code, e.value.message) == (
        "invalid_input", "query parameter n: input should be a valid integer, unable to parse string "
                         "as an integer.")


def test_streamed_lines_arrive_one_by_one(server):
    assert list(Client(url=server, token="t").stream_lines("/lines")) == ["line 0", "line 1", "line 2"]


def test_a_server_that_is_not_there_says_how_to_start_it():
    with pytest.raises(Unreachable) as e:
        Client(url=f"http://127.0.0.1:{free_port()}", token="t").get("/ok")
    assert e.value.code == "unreachable" and "sentinel server start" in e.value.message


def test_every_code_the_control_plane_sends_has_its_own_error_class():
    from control_plane import errors

    sent = {cls.code for cls in vars(errors).values()
            if isinstance(cls, type) and issubclass(cls, errors.SentinelError) and cls is not errors.SentinelError}
    assert sent <= set(ERRORS_BY_CODE)
    assert all(issubclass(cls, ClientError) and cls.code == code for code, cls in ERRORS_BY_CODE.items())
