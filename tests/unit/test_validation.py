import pytest

from control_plane import validation as v
from control_plane.errors import InvalidInput


@pytest.mark.parametrize("name", ["todos", "a", "my-app-2", "x" * 40])
def test_good_names(name):
    assert v.name(name) == name


@pytest.mark.parametrize("name", ["", "Todos", "1app", "app-", "a_b", "x" * 41, "a.b", "-a"])
def test_bad_names_say_what_is_allowed(name):
    with pytest.raises(InvalidInput, match="lowercase letters, digits and '-'"):
        v.name(name)


@pytest.mark.parametrize("d", ["todos.localhost", "a.example.com", "X.Example.COM."])
def test_good_domains(d):
    assert v.domain(d) == d.lower().rstrip(".")


@pytest.mark.parametrize("d", ["", "localhost", "a..b", "-a.com", "a_b.com", "a b.com", "x" * 64 + ".com"])
def test_bad_domains(d):
    with pytest.raises(InvalidInput, match="is not valid"):
        v.domain(d)


@pytest.mark.parametrize("w", [0, 1, 50, 100])
def test_good_weights(w):
    assert v.weight(w) == w


@pytest.mark.parametrize("w", [-1, 101, 1.5, "10", True, None])
def test_bad_weights(w):
    with pytest.raises(InvalidInput, match="whole number from 0 to 100"):
        v.weight(w)


def test_env_entries():
    assert v.env_entries(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(InvalidInput, match="KEY=VALUE"):
        v.env_entries(["NOEQUALS"])
    with pytest.raises(InvalidInput, match="KEY=VALUE"):
        v.env_entries(["1A=2"])


@pytest.mark.parametrize("img", ["todo:1", "postgres", "registry.example.com:5000/team/app:v2",
                                 "ghcr.io/a/b@sha256:" + "a" * 64])
def test_good_images(img):
    assert v.image(img) == img


@pytest.mark.parametrize("img", ["", "Todo:1", "todo:", "todo::1", "a b", "todo:-x"])
def test_bad_images(img):
    with pytest.raises(InvalidInput, match="not a valid image reference"):
        v.image(img)


@pytest.mark.parametrize("bad", [0, -1, 21])
def test_node_count(bad):
    with pytest.raises(InvalidInput, match="1 to 20"):
        v.node_count(bad)


@pytest.mark.parametrize("bad", [0, 65536, -5])
def test_ports(bad):
    with pytest.raises(InvalidInput, match="1 to 65535"):
        v.port(bad)


def test_replicas():
    assert v.replicas(0) == 0
    with pytest.raises(InvalidInput):
        v.replicas(-1)


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_acme_ca_file_is_read(tmp_path):
    f = tmp_path / "ca.pem"
    f.write_text(PEM)
    assert v.pem_bundle_file(str(f)) == PEM


def test_acme_ca_missing_file_is_one_sentence(tmp_path):
    with pytest.raises(InvalidInput) as e:
        v.pem_bundle_file(str(tmp_path / "nope.pem"))
    assert e.value.message == (f"--acme-ca {tmp_path / 'nope.pem'} does not exist: give the path of "
                               "a PEM file with the CA certificate(s) of the ACME server.")


def test_acme_ca_unreadable_or_not_pem(tmp_path):
    f = tmp_path / "bin.pem"
    f.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidInput, match="cannot be read"):
        v.pem_bundle_file(str(f))
    f.write_text("hello")
    with pytest.raises(InvalidInput, match="holds no PEM certificate"):
        v.pem_bundle_file(str(f))
    with pytest.raises(InvalidInput, match="does not exist"):
        v.pem_bundle_file(str(tmp_path))  # a folder


def test_acme_settings():
    v.acme_settings(None, None, None)
    v.acme_settings("ops@example.com", "https://172.28.0.1:14000/dir", PEM)
    with pytest.raises(InvalidInput, match="--acme-server needs --email"):
        v.acme_settings(None, "https://x/dir", None)
    with pytest.raises(InvalidInput, match="--acme-ca needs --email"):
        v.acme_settings(None, None, PEM)
    with pytest.raises(InvalidInput, match="https:// URL"):
        v.acme_settings("ops@example.com", "http://x/dir", None)
    with pytest.raises(InvalidInput, match="email 'ops' is not valid"):
        v.acme_settings("ops", None, None)
    # what reaches Traefik's command line is an address and a URL, nothing that could add a flag
    for bad in ("ops@example.com\n--api.insecure=true", "ops @example.com", "ops@exa mple.com",
                "\"ops\"@example.com", "ops@", "@example.com", "ops@example.com "):
        with pytest.raises(InvalidInput, match="is not valid"):
            v.acme_settings(bad, None, None)
    for bad in ("https://acme.example.com/dir\n--api.insecure=true", "https://acme.example.com/a b",
                "https://acme.example.com/dir?x=1", "https://user@acme.example.com/dir"):
        with pytest.raises(InvalidInput, match="ACME server .* is not valid"):
            v.acme_settings("ops@example.com", bad, None)
    v.acme_settings("first.last+tag@mail.example.co.uk", "https://acme-v02.api.letsencrypt.org/directory", None)
    with pytest.raises(InvalidInput, match="no PEM certificate"):
        v.acme_settings("ops@example.com", None, "junk")


def test_scrape_interval_is_a_duration_from_one_to_sixty_seconds():
    from control_plane.validation import scrape_interval

    assert scrape_interval("1s") == 1 and scrape_interval("1m") == 60
    for bad in ("0.5s", "2m", "fast", ""):
        with pytest.raises(InvalidInput, match="--scrape-interval"):
            scrape_interval(bad)
