"""Validation of what users type: names, domains, ports, env entries, weights."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .build import procfile
from .errors import InvalidInput
from .names import RESERVED_PROCESSES
from .records import ProcessSpec
from .metrics import parse_duration
from .units import check_cpu, format_memory, parse_memory

_LABEL = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Registry reference: [host[:port]/]path[:tag][@digest]
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")


def name(value: str, what: str = "app name", max_len: int = 40) -> str:
    if not value or len(value) > max_len or not _LABEL.match(value):
        raise InvalidInput(
            f"{what} {value!r} is not valid: use 1-{max_len} lowercase letters, digits and '-', "
            "starting with a letter and not ending with '-'.")
    return value


def domain(value: str) -> str:
    v = value.strip().lower().rstrip(".")
    labels = v.split(".")
    if (not v or len(v) > 253 or len(labels) < 2
            or not all(l and len(l) <= 63 and _DOMAIN_LABEL.match(l) for l in labels)):
        raise InvalidInput(f"domain {value!r} is not valid: give a host name such as todos.example.com "
                           "(or todos.localhost on the local provider).")
    return v


def port(value: int, what: str = "port") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise InvalidInput(f"{what} {value!r} is not valid: give a number from 1 to 65535.")
    return value


def env_entries(entries: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in entries:
        key, sep, val = e.partition("=")
        if not sep or not _ENV_KEY.match(key):
            raise InvalidInput(f"environment entry {e!r} is not valid: write it as KEY=VALUE "
                               "(KEY of letters, digits and '_').")
        out[key] = val
    return out


def image(value: str) -> str:
    if not value or not _IMAGE.match(value):
        raise InvalidInput(f"image {value!r} is not a valid image reference: write it as "
                           "name:tag or registry/name:tag.")
    return value


# The one rule of a canary's weight: a percent of the traffic, 0 to 100; with a baseline, canary
# and baseline each get the weight, so at most 50. The API, the manifest and the plan's steps use it.
def max_weight(baseline: bool) -> int:
    return 50 if baseline else 100


def is_weight(value, low: int = 0, baseline: bool = False) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and \
        low <= value <= max_weight(baseline)


def weight(value, baseline: bool = False) -> int:
    if not is_weight(value):
        raise InvalidInput(f"weight {value!r} is not valid: give a whole number from 0 to 100.")
    if not is_weight(value, baseline=baseline):
        raise InvalidInput(f"weight {value} is too high with a baseline: canary and baseline "
                           f"each get the weight, so it can be at most {max_weight(True)}.")
    return value


def replicas(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 100:
        raise InvalidInput(f"replicas {value!r} is not valid: give a whole number from 0 to 100.")
    return value


def node_count(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        raise InvalidInput(f"node count {value!r} is not valid: give a whole number from 1 to 20.")
    return value


PEM_CERT = "-----BEGIN CERTIFICATE-----"


def pem_bundle_file(path: str, flag: str = "--acme-ca", of: str = "the ACME server") -> str:
    """The text of a PEM certificate bundle the user names on the command line."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InvalidInput(f"{flag} {path} does not exist: give the path of a PEM file with the "
                           f"CA certificate(s) of {of}.")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{flag} {path} cannot be read ({e.__class__.__name__}): give a readable "
                           f"PEM file with the CA certificate(s) of {of}.")
    return pem_bundle(text, f"{flag} {path}", of)


def pem_bundle(text: str, what: str = "acme_ca", of: str = "the ACME server") -> str:
    if PEM_CERT not in text:
        raise InvalidInput(f"{what} holds no PEM certificate: give a file with "
                           f"'{PEM_CERT}' blocks ({of}'s CA).")
    return text


# Object storage: S3's bucket naming rules; a prefix of plain path segments; every value ends up
# in pgBackRest's configuration, so none may hold a space, a quote or a line break.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_REGION = re.compile(r"^[a-z0-9-]{1,40}$")
_S3_KEY = re.compile(r"^[A-Za-z0-9/+=._-]{3,256}$")
_IPV4 = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$")


def backup_repo_url(url: str) -> tuple[str, str]:
    """`s3://bucket[/prefix]` -> (bucket, prefix)."""
    scheme, sep, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if scheme != "s3" or not sep or not _BUCKET.match(bucket) or (prefix and not _PREFIX.match(prefix)):
        raise InvalidInput(f"--backup-repo {url!r} is not valid: give s3://BUCKET or "
                           "s3://BUCKET/FOLDER (bucket of 3-63 lowercase letters, digits, '.' "
                           "and '-').")
    return bucket, prefix


def s3_endpoint(value: str) -> tuple[str, int | None]:
    """`host[:port]` -> (host, port or None for 443)."""
    host, sep, port_text = value.rpartition(":") if ":" in value else (value, "", "")
    if (not (_is_domain(host) or _IPV4.match(host) or host == "localhost")
            or (sep and not (port_text.isdigit() and 1 <= int(port_text) <= 65535))):
        raise InvalidInput(f"backup repository endpoint {value!r} is not valid: give the S3 "
                           "API's host name and, unless it is 443, its port "
                           "(s3.eu-west-1.amazonaws.com, minio.internal:9000).")
    return host, int(port_text) if sep else None


def object_storage(bucket: str, prefix: str, endpoint: str, region: str, access_key_id: str,
                   secret_access_key: str, ca: str | None, address: str | None = None) -> None:
    """Every part of an object-storage repository, as one sentence for the first bad one."""
    if not _BUCKET.match(bucket) or (prefix and not _PREFIX.match(prefix)):
        backup_repo_url(f"s3://{bucket}/{prefix}")
    host, _ = s3_endpoint(endpoint)
    if address is not None and not (_IPV4.match(address) and all(
            int(b) <= 255 for b in address.split("."))):
        raise InvalidInput(f"--backup-repo-address {address!r} is not valid: give the endpoint's "
                           "IPv4 address, such as 10.0.0.5.")
    if address is not None and _IPV4.match(host):
        raise InvalidInput("--backup-repo-address is for an endpoint named by a host name: this "
                           f"endpoint is already the address {host}.")
    if not _REGION.match(region):
        raise InvalidInput(f"backup repository region {region!r} is not valid: give the bucket's "
                           "region, such as us-east-1.")
    if not (_S3_KEY.match(access_key_id) and _S3_KEY.match(secret_access_key)):
        raise InvalidInput("the backup repository's access key is missing or not valid: set "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the bucket's key pair.")
    if ca is not None:
        pem_bundle(ca, "--backup-repo-ca", "the S3 endpoint")


# Both end up in Traefik's command line: only what an address or a URL needs, never a space,
# a quote or a line break.
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}$")
_ACME_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%+-]+)*/?$")


def _is_domain(value: str) -> bool:
    try:
        domain(value)
    except InvalidInput:
        return False
    return value == value.strip()


def acme_settings(email: str | None, server: str | None, ca: str | None) -> None:
    """The ACME options only mean something with an account email; the server must be HTTPS."""
    if (server or ca) and not email:
        raise InvalidInput(f"{'--acme-server' if server else '--acme-ca'} needs --email: "
                           "ACME (automatic HTTPS) is turned on by an account email.")
    local, _, host = (email or "").rpartition("@")
    if email and not (_EMAIL_LOCAL.match(local) and _is_domain(host)):
        raise InvalidInput(f"email {email!r} is not valid: give the ACME account's address, "
                           "such as ops@example.com.")
    if server and not _ACME_URL.match(server):
        raise InvalidInput(f"ACME server {server!r} is not valid: give the https:// URL of its "
                           "directory, such as https://acme-v02.api.letsencrypt.org/directory.")
    if ca is not None:
        pem_bundle(ca)


def scrape_interval(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        seconds = 0
    if not 1 <= seconds <= 60:
        raise InvalidInput(f"--scrape-interval {text!r} must be a duration from 1s to 60s, e.g. 2s.")
    return seconds


_HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~/%+-]*(\?[A-Za-z0-9._~%&=+-]*)?$")


def health_path(value: str | None) -> str | None:
    """A URL path (and query) with no quoting or shell characters."""
    if value is None:
        return None
    if len(value) > 200 or not _HEALTH_PATH.match(value):
        raise InvalidInput(f"health path {value!r} is not valid: give a URL path such as /healthz "
                           "(letters, digits and . _ ~ / % + - ; a query after ?).")
    return value


MAX_DOMAINS = 10  # each has its router rule and certificate; more belongs behind a wildcard


def domains(values: list[str]) -> list[str]:
    """Every domain valid, none twice, at most MAX_DOMAINS; normalized (lowercase, no dot)."""
    if not values:
        raise InvalidInput("give at least one domain.")
    if len(values) > MAX_DOMAINS:
        raise InvalidInput(f"{len(values)} domains are too many: at most {MAX_DOMAINS} per app.")
    out = [domain(v) for v in values]
    for i, d in enumerate(out):
        if d in out[:i]:
            raise InvalidInput(f"domain {d} is given twice.")
    return out


def resources(value) -> dict | None:
    """A Resources model (or its dict) -> {"cpu": float|None, "memory": "256Mi"|None}, or None
    when it limits nothing."""
    if value is None:
        return None
    raw = value if isinstance(value, dict) else value.model_dump()
    out = {"cpu": None, "memory": None}
    if raw.get("cpu") is not None:
        try:
            out["cpu"] = check_cpu(raw["cpu"])
        except ValueError as e:
            raise InvalidInput(f"cpu {e}: e.g. 0.5.")
    if raw.get("memory") is not None:
        try:
            out["memory"] = format_memory(parse_memory(raw["memory"]))
        except ValueError as e:
            raise InvalidInput(f"memory {e}.")
    return out if out["cpu"] is not None or out["memory"] is not None else None


def http_url(value: str, what: str = "URL") -> str:
    """An http(s) URL with a host: where the control plane sends hooks and notifications."""
    try:
        u = urlsplit(value)
        u.port  # raises ValueError for a port that is not a number from 0 to 65535
        ok = u.scheme in ("http", "https") and bool(u.hostname)
    except (ValueError, TypeError, AttributeError):  # a bad port, or not a string at all
        ok = False
    if not ok or any(c.isspace() for c in value):
        raise InvalidInput(f"{what} {value!r} is not an http:// or https:// URL with a host.")
    return value


# ---- process types (Procfile) --------------------------------------------------------------
MAX_PROCESSES = 10


def process_name(name: Any) -> str:
    if not isinstance(name, str) or not procfile.NAME.fullmatch(name) or \
            len(name) > procfile.NAME_MAX:
        raise InvalidInput(f"process {name!r}: a process type is a name of lowercase letters, "
                           f"digits, _ and - (at most {procfile.NAME_MAX}), as the Procfile's "
                           "`worker:`.")
    if name in RESERVED_PROCESSES or name.startswith(("canary-", "baseline-")):
        raise InvalidInput(f"process {name!r}: that name is taken (web is routed, release is "
                           "the release phase, canary- and baseline- name a new version's): "
                           "name it otherwise.")
    return name


def processes(value: dict[str, Any] | None) -> dict[str, ProcessSpec]:
    """The process types besides web: name -> its command (what a Procfile lists), or a spec
    with replicas and resources (sentinel.yaml's `processes:`)."""
    out: dict[str, ProcessSpec] = {}
    for name, given in (value or {}).items():
        process_name(name)
        raw = given if isinstance(given, dict) else {"command": given} if isinstance(given, str) \
            else given.model_dump()
        command = raw.get("command")
        if not isinstance(command, str) or not command.strip() or len(command) > 4096:
            raise InvalidInput(f"process {name}: give its command (at most 4096 characters).")
        count = raw.get("replicas")
        if count is not None:
            try:
                replicas(count)
            except InvalidInput as e:
                raise InvalidInput(f"process {name}: {e.message}")
        out[name] = ProcessSpec(command=command, replicas=count,
                                resources=resources(raw.get("resources")))
    if len(out) > MAX_PROCESSES:
        raise InvalidInput(f"at most {MAX_PROCESSES} process types besides web.")
    return out
