"""Routes of `git push` (docs/build.md): each app's repository over git's smart HTTP protocol,
served by `git http-backend` behind the app's push token; the way back in for a push's hook;
and the remote a user adds (`sentinel git remote`).

The repository routes check their own credentials (git sends HTTP Basic, the token as the
password) and take a push's body as it streams (git sends a large push chunked): api/guard.py
lets /git/ through to them."""
from __future__ import annotations

import asyncio
import logging
import os
import sys

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ... import names
from ...errors import SentinelError
from ...git import TICKET_HEADER, done_line
from ...git.backend import (SMART_PATHS, GitRequest, HookContext, backend_env, basic_password,
                            http_backend_argv, parse_head, split_head)
from ...services.pushes import PushService
from ..responses import ERRORS, GitRemote

log = logging.getLogger("sentinel.git")
PUSH_LIMIT = 200 * 2**20  # a push's pack, as sent
NOT_LET_IN = ("the push token was not accepted: get the remote again with `sentinel git remote "
              "APP` and set it with `git remote set-url`.")


def _refuse(status: int, message: str, basic: bool = False) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="sentinel"'} if basic else {}
    # git prints a refusal's body; one sentence, as text.
    return Response(message + "\n", status_code=status, media_type="text/plain", headers=headers)


def router(pushes: PushService, auth) -> APIRouter:
    r = APIRouter()

    @r.post("/v1/apps/{name}/git-remote", response_model=GitRemote, responses=ERRORS,
            dependencies=[Depends(auth)])
    def git_remote(name: str, rotate: bool = False):
        """The app's push token and the path of its repository (`rotate`: a new token; the old
        one stops working)."""
        return pushes.remote(name, rotate)

    @r.post("/git/{app}.git/sentinel-push", include_in_schema=False)
    async def push(app: str, sha: str, request: Request, branch: str = names.GIT_BRANCH):
        """The hook of a push hands over its tree; the push's lines stream back."""
        if not pushes.redeem(app, request.headers.get(TICKET_HEADER)):
            return _refuse(401, done_line(False, "this push's ticket was not accepted."))
        source = await request.body()
        try:
            op = await run_in_threadpool(pushes.start, app, sha, source, branch)
        except SentinelError as e:
            return _refuse(e.status, done_line(False, f"{e.message} Nothing was built; the "
                                               "branch was not moved."))
        if op is None:
            return Response(done_line(True, f"{branch} had no preview: nothing to remove.") + "\n",
                            media_type="text/plain")
        return StreamingResponse((f"{line}\n" for line in pushes.follow(app, op)),
                                 media_type="text/plain")

    @r.api_route("/git/{app}.git/{path:path}", methods=["GET", "POST"], include_in_schema=False)
    async def repository(app: str, path: str, request: Request):
        if path not in SMART_PATHS:
            return _refuse(404, f"{path} is not served: use git (clone, fetch, push).")
        if not pushes.authorized(app, basic_password(request.headers.get("authorization"))):
            return _refuse(401, NOT_LET_IN, basic=True)
        length = request.headers.get("content-length")
        req = GitRequest(app=app, path=path, method=request.method,
                         query=request.url.query, content_type=request.headers.get("content-type", ""),
                         content_length=int(length) if length and length.isdigit() else None,
                         content_encoding=request.headers.get("content-encoding", ""),
                         git_protocol=request.headers.get("git-protocol", ""),
                         remote_addr=request.client.host if request.client else "")
        if req.service is None:
            return _refuse(403, "only git's smart protocol is served (git 1.6.6 or later).")
        if req.content_length is not None and req.content_length > PUSH_LIMIT:
            return _refuse(413, f"the push is over {PUSH_LIMIT // 2**20} MiB.")
        try:
            repo = await run_in_threadpool(pushes.repository, app)
        except SentinelError as e:
            return _refuse(500, e.message)
        ticket = pushes.ticket(app) if path == "git-receive-pack" else None
        host, port = request.scope.get("server") or ("127.0.0.1", 80)
        host = f"[{host}]" if ":" in host else host  # an IPv6 address, in a URL
        hook = HookContext(url=f"http://{host}:{port}{names.git_path(app)}/sentinel-push",
                           ticket=ticket, branch=names.GIT_BRANCH,
                           python=sys.executable) if ticket else None
        env = backend_env(repo.parent, req, os.environ.get("PATH", "/usr/bin:/bin"), hook)

        def done() -> None:  # an unused ticket ends with its push's request
            if ticket:
                pushes.end_ticket(ticket)
        return await _cgi(request, env, done)

    return r


async def _cgi(request: Request, env: dict[str, str], done) -> Response:
    """Run http-backend for the request: its body streamed in, its answer streamed out (a push's
    hook prints the build and the canary as they happen)."""
    proc = await asyncio.create_subprocess_exec(
        *http_backend_argv(), env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

    def stop() -> None:
        if proc.returncode is None:
            try:
                proc.kill()
            except ProcessLookupError:  # it ended meanwhile
                pass

    async def feed() -> None:
        sent = 0
        try:
            async for chunk in request.stream():
                sent += len(chunk)
                if sent > PUSH_LIMIT:
                    stop()
                    return
                if chunk:
                    proc.stdin.write(chunk)
                    await proc.stdin.drain()
        except ConnectionError:
            pass  # it stopped reading (a request it answers without a body): its answer says why
        except ValueError:  # the client sent more than it said
            stop()
        finally:
            if not proc.stdin.is_closing():
                proc.stdin.close()

    async def errors() -> bytes:
        return await proc.stderr.read()

    feeding, said = asyncio.create_task(feed()), asyncio.create_task(errors())
    buffer = b""
    while (parts := split_head(buffer)) is None:
        chunk = await proc.stdout.read(65536)
        if not chunk:
            await proc.wait()
            done()
            log.warning("git http-backend gave no answer: %s", (await said).decode()[-500:])
            return JSONResponse({"error": {"code": "git", "message": "git gave no answer"}},
                                status_code=502)
        buffer += chunk
    head, start = parts
    status, headers = parse_head(head)
    # The whole request is read before the answer starts: the answer's stream listens for the
    # client going away, and would take the request's last messages from us. http-backend reads
    # a request to its end before it answers past the head, so nothing waits on the other.
    await feeding

    async def body():
        try:
            if start:
                yield start
            while chunk := await proc.stdout.read(65536):
                yield chunk
        finally:
            done()
            if proc.returncode is None:
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except asyncio.TimeoutError:
                    stop()
            err = (await said).decode(errors="replace").strip()
            if err:
                log.info("git http-backend: %s", err[-500:])

    return StreamingResponse(body(), status_code=status, headers=dict(headers))
