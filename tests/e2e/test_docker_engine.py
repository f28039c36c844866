"""The engine calls the platform builds on, against this machine's real Docker engine."""
from __future__ import annotations

import subprocess
import threading
import time
import uuid

import pytest

from control_plane.docker_cli import Docker
from control_plane.images import local_image_refs

pytestmark = pytest.mark.e2e


def sh(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_a_volume_still_held_by_a_leaving_container_is_removed_once_freed():
    """The race behind a stale etcd member: a service's container goes a moment after the
    service, and the volume can only go after it."""
    image = next(iter(local_image_refs().values()))
    volume, container = f"sentinel-test-{uuid.uuid4().hex[:8]}", f"sentinel-test-{uuid.uuid4().hex[:8]}"
    assert sh("docker", "volume", "create", volume).returncode == 0
    try:
        assert sh("docker", "create", "--name", container, "-v", f"{volume}:/data", image,
                  "true").returncode == 0
        assert Docker().remove_volume(volume, wait=0) is False  # in use: still there
        threading.Timer(3, sh, ("docker", "rm", "-f", container)).start()
        started = time.monotonic()
        assert Docker().remove_volume(volume, wait=30) is True
        assert time.monotonic() - started >= 2
        assert volume not in sh("docker", "volume", "ls", "-q").stdout.split()
        assert Docker().remove_volume(volume, wait=0) is True  # absent counts as removed
    finally:
        sh("docker", "rm", "-f", container)
        sh("docker", "volume", "rm", "-f", volume)
