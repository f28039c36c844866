"""What the control plane itself keeps in the platform's object storage (its state copies), put
there with curl, whose `--aws-sigv4` signs S3 requests: a proven client on every machine a control
plane runs on (playbooks/control_plane.yml installs it), no SDK. The apps' repositories in the same
bucket are pgBackRest's own (database_config.member_pgbackrest).

The key pair never reaches an argv (the process list): curl reads it from its config on stdin.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .models import ObjectStorage


@dataclass(frozen=True)
class Bucket:
    bucket: str
    prefix: str  # a folder inside the bucket, "" for none
    host: str
    port: int | None  # None: 443
    region: str
    uri_style: str  # path | host
    access_key_id: str
    secret_access_key: str
    address: str | None = None  # the endpoint's address, when DNS does not know its name
    ca: str | None = None  # PEM of the endpoint's CA, when not a public one


def bucket_of(given: ObjectStorage | None, output: dict | None) -> Bucket | None:
    """The platform's bucket the control plane can write to (pure): the one given at init, else
    the cloud module's when it comes with a key pair (AWS's is reached with the nodes' instance
    role, which the control plane's server does not have: None)."""
    if given:
        host, _, port = given.endpoint.partition(":")
        return Bucket(given.bucket, given.prefix, host, int(port) if port else None, given.region,
                      given.uri_style, given.access_key_id, given.secret_access_key,
                      given.address, given.ca)
    out = output or {}
    if out.get("type") != "s3" or out.get("key_type") != "shared":
        return None
    return Bucket(out["bucket"], "", out["endpoint"], None, out["region"], out["uri_style"],
                  out["access_key_id"], out["secret_access_key"])


def key(b: Bucket, *parts: str) -> str:
    """An object's key under the bucket's folder."""
    return "/".join(([b.prefix] if b.prefix else []) + list(parts))


def url(b: Bucket, object_key: str) -> str:
    host = b.host if b.uri_style == "path" else f"{b.bucket}.{b.host}"
    port = f":{b.port}" if b.port else ""
    path = f"/{b.bucket}/{object_key}" if b.uri_style == "path" else f"/{object_key}"
    return f"https://{host}{port}{path}"


def put_argv(b: Bucket, object_key: str, body: Path, ca_file: Path | None) -> list[str]:
    """curl PUTting the file `body` as `object_key` (the key pair comes on stdin: credentials)."""
    argv = ["curl", "--silent", "--show-error", "--fail", "--max-time", "60",
            "--aws-sigv4", f"aws:amz:{b.region}:s3", "--config", "-", "--upload-file", str(body)]
    if ca_file:
        argv += ["--cacert", str(ca_file)]
    if b.address:
        host = b.host if b.uri_style == "path" else f"{b.bucket}.{b.host}"
        argv += ["--resolve", f"{host}:{b.port or 443}:{b.address}"]
    return argv + [url(b, object_key)]


def credentials(b: Bucket) -> str:
    """curl's config on stdin: the key pair (checked at init: no quote or space in either)."""
    return f'user = "{b.access_key_id}:{b.secret_access_key}"\n'


def where(b: Bucket) -> str:
    """The bucket in words, never its keys."""
    return f"s3://{b.bucket}/{key(b, '')}".rstrip("/")
