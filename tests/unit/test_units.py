import pytest

from control_plane import validation as v
from control_plane.errors import InvalidInput
from control_plane.units import format_duration, format_memory, parse_memory


@pytest.mark.parametrize("text,size", [("256Mi", 256 * 2**20), ("256M", 256 * 2**20), ("256MiB", 256 * 2**20),
                                       ("1Gi", 2**30), ("1.5G", 1536 * 2**20), ("64mb", 64 * 2**20),
                                       (2**30, 2**30), ("20000000", 20000000)])
def test_sizes_read_as_docker_reads_them(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", ["lots", "1Mi", "", "-5Mi", True, "5 Gb of RAM"])
def test_bad_sizes(bad):
    with pytest.raises(ValueError):
        parse_memory(bad)


def test_formats_are_the_shortest_exact_form():
    assert [format_memory(x) for x in (256 * 2**20, 2**30, 1536 * 2**20, 20000000)] == \
        ["256Mi", "1Gi", "1536Mi", "20000000"]
    assert [format_duration(x) for x in (120, 90, 7200, 86400, 0.5, 1.5, 5400)] == \
        ["2m", "90s", "2h", "1d", "500ms", "1.5s", "90m"]


def test_resources_validation():
    assert v.resources({"cpu": 0.5, "memory": "256M"}) == {"cpu": 0.5, "memory": "256Mi"}
    assert v.resources({"cpu": None, "memory": None}) is None and v.resources(None) is None
    with pytest.raises(InvalidInput, match="^cpu 0 is not a share of cores"):
        v.resources({"cpu": 0})
    with pytest.raises(InvalidInput, match="^memory 'x' is not a size"):
        v.resources({"memory": "x"})


def test_domains_validation():
    assert v.domains(["A.example.com.", "b.example.com"]) == ["a.example.com", "b.example.com"]
    with pytest.raises(InvalidInput, match="given twice"):
        v.domains(["a.example.com", "A.example.com"])
    with pytest.raises(InvalidInput, match="at most 10"):
        v.domains([f"d{i}.example.com" for i in range(11)])


@pytest.mark.parametrize("url", ["ftp://x", "https://", "https://a:99999/", "no", "http://a b/"])
def test_hook_urls_are_http_with_a_host(url):
    with pytest.raises(InvalidInput, match="is not an http:// or https:// URL with a host"):
        v.http_url(url)
