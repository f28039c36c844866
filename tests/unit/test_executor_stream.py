"""executor.stream: lines as they come, masked, and the command killed when the reader stops."""
import asyncio
import os
import sys
import time

from control_plane import executor


def collect(argv, n=None):
    async def go():
        out = []
        agen = executor.stream(argv)
        async for line in agen:
            out.append(line)
            if n and len(out) == n:
                await agen.aclose()
                break
        await asyncio.sleep(0.3)  # let the loop see the killed child exit before it closes
        return out
    return asyncio.run(go())


def test_lines_come_masked_with_stderr_and_a_final_newline():
    executor.register_secret("s3cr3t-value")
    lines = collect([sys.executable, "-c",
                     "import sys; print('a s3cr3t-value'); sys.stdout.flush(); "
                     "sys.stderr.write('err\\n'); sys.stderr.flush(); sys.stdout.write('last')"])
    assert lines == ["a *****\n", "err\n", "last\n"]


def test_the_command_is_killed_when_the_reader_stops(tmp_path):
    pidfile = tmp_path / "pid"
    code = (f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
            "print('first', flush=True); time.sleep(60)")
    started = time.monotonic()
    assert collect([sys.executable, "-c", code], n=1) == ["first\n"]
    pid = int(pidfile.read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the streamed command outlived its reader")
    assert time.monotonic() - started < 10


def test_the_reader_being_cancelled_kills_the_command(tmp_path):
    pidfile = tmp_path / "pid"
    code = (f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
            "print('first', flush=True); time.sleep(60)")

    async def go():
        async def read():
            async for _ in executor.stream([sys.executable, "-c", code]):
                pass
        task = asyncio.create_task(read())
        while not pidfile.exists():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(0.3)
    asyncio.run(go())
    pid = int(pidfile.read_text())
    time.sleep(0.3)
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
