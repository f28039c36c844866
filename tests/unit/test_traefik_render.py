import yaml

from control_plane import traefik
from control_plane.services.routes import weights_for


def routes(**kw):
    base = dict(app="todos", domain="todos.localhost", weights={"production": 100})
    return yaml.safe_load(traefik.app_routes(**{**base, **kw}))


def test_production_only_has_no_forcing_router_and_no_cookie():
    http = routes()["http"]
    assert set(http["routers"]) == {"todos", "todos-secure"}
    assert http["routers"]["todos"]["rule"] == "Host(`todos.localhost`)"
    w = http["services"]["todos-weighted"]["weighted"]
    assert w["services"] == [{"name": "todos-production@swarm", "weight": 100}]
    assert "sticky" not in w


def test_exact_weights_at_one_percent_resolution():
    http = routes(weights=weights_for(7, False))["http"]
    w = http["services"]["todos-weighted"]["weighted"]
    assert w["services"] == [{"name": "todos-production@swarm", "weight": 93},
                             {"name": "todos-canary@swarm", "weight": 7}]
    assert w["sticky"]["cookie"]["name"] == "sentinel_todos"
    assert w["healthCheck"] == {}


def test_baseline_gets_the_canary_weight():
    assert weights_for(10, True) == {"production": 80, "canary": 10, "baseline": 10}
    w = routes(weights=weights_for(10, True))["http"]["services"]["todos-weighted"]["weighted"]
    assert [s["weight"] for s in w["services"]] == [80, 10, 10]


def test_zero_weight_children_are_left_out():
    w = routes(weights={"production": 100, "canary": 0})["http"]["services"]["todos-weighted"]["weighted"]
    assert w["services"] == [{"name": "todos-production@swarm", "weight": 100}]
    w = routes(weights={"production": 0, "canary": 100})["http"]["services"]["todos-weighted"]["weighted"]
    assert w["services"] == [{"name": "todos-canary@swarm", "weight": 100}]


def test_header_and_cookie_force_a_version_with_higher_priority():
    r = routes(weights=weights_for(10, False))["http"]["routers"]
    forced = r["todos-force-canary"]
    assert forced["service"] == "todos-canary@swarm"
    assert forced["priority"] > 1000
    assert "Header(`X-Sentinel-Version`, `canary`)" in forced["rule"]
    assert "sentinel_version=canary" in forced["rule"]
    assert r["todos-force-production-secure"]["tls"] == {}


def test_no_sticky():
    w = routes(weights=weights_for(10, False), sticky=False)["http"]["services"]["todos-weighted"]["weighted"]
    assert "sticky" not in w


def test_acme_resolver_on_the_secure_router():
    r = routes(cert_resolver="acme")["http"]["routers"]
    assert r["todos-secure"]["tls"] == {"certResolver": "acme",
                                        "domains": [{"main": "todos.localhost"}]}
    assert r["todos-secure"]["entryPoints"] == ["websecure"]
    assert "tls" not in r["todos"]


def test_acme_resolver_on_the_forcing_routers_too():
    r = routes(weights=weights_for(10, False), cert_resolver="acme")["http"]["routers"]
    for name in ("todos-force-canary-secure", "todos-force-production-secure"):
        assert r[name]["tls"]["certResolver"] == "acme"
        assert r[name]["tls"]["domains"] == [{"main": "todos.localhost"}]
    assert "tls" not in r["todos-force-canary"]


def test_without_acme_the_default_certificate_serves_websecure():
    r = routes()["http"]["routers"]
    assert r["todos-secure"]["tls"] == {}
    assert traefik.router_tls("todos.localhost") == {}


# ---- several domains ----------------------------------------------------------------------------
def test_every_router_matches_every_domain_and_each_gets_its_certificate():
    http = routes(domains=["todos.example.com", "www.todos.example.com"],
                  weights=weights_for(10, False), cert_resolver="acme")["http"]
    hosts = "(Host(`todos.example.com`) || Host(`www.todos.example.com`))"
    r = http["routers"]
    assert r["todos"]["rule"] == r["todos-secure"]["rule"] == hosts
    assert r["todos-force-canary"]["rule"].startswith(hosts + " && (Header(`X-Sentinel-Version`, `canary`)")
    assert r["todos-secure"]["tls"] == {"certResolver": "acme", "domains": [
        {"main": "todos.example.com"}, {"main": "www.todos.example.com"}]}


def test_a_domain_that_is_not_a_token_never_reaches_the_file():
    import pytest
    from control_plane.templates import TemplateValueError

    with pytest.raises(TemplateValueError):
        routes(domains=["todos.example.com`) || Host(`evil.example.com"])


# ---- a shadow canary ----------------------------------------------------------------------------
def shadow(**kw):
    return routes(**{"weights": weights_for(0, False), "mirror": 25, **kw})["http"]


def test_a_shadow_canary_gets_a_copy_of_the_reads_only():
    http = shadow()
    mirror = http["services"]["todos-mirror"]["mirroring"]
    # Users get the weighted service's answer (production only, at weight 0); copies go to the canary.
    assert mirror["service"] == "todos-weighted"
    assert mirror["mirrors"] == [{"name": "todos-canary@swarm", "percent": 25}]
    assert http["services"]["todos-weighted"]["weighted"]["services"] == [
        {"name": "todos-production@swarm", "weight": 100}]
    read = http["routers"]["todos-read"]
    assert read["service"] == "todos-mirror"
    assert read["rule"] == "Host(`todos.localhost`) && (Method(`GET`) || Method(`HEAD`))"
    # Writes stay on the plain router, which never mirrors; the read router wins for GET/HEAD
    # and loses to a tester's forcing.
    assert http["routers"]["todos"]["service"] == "todos-weighted"
    assert http["routers"]["todos"].get("priority") is None
    assert http["routers"]["todos-force-canary"]["priority"] > read["priority"] > 1000
    assert http["routers"]["todos-read-secure"]["entryPoints"] == ["websecure"]
    assert http["routers"]["todos-read-secure"]["tls"] == {}


def test_a_shadow_with_a_baseline_mirrors_to_both():
    http = routes(weights=weights_for(0, True), mirror=100)["http"]
    assert http["services"]["todos-mirror"]["mirroring"]["mirrors"] == [
        {"name": "todos-canary@swarm", "percent": 100}, {"name": "todos-baseline@swarm", "percent": 100}]


def test_no_mirror_without_a_canary_or_during_maintenance():
    assert "todos-mirror" not in routes(mirror=50)["http"]["services"]
    http = shadow(maintenance=True)
    assert "todos-mirror" not in http["services"] and "todos-read" not in http["routers"]
    assert http["routers"]["todos"]["service"] == "todos-maintenance"


def test_the_file_names_its_objects_as_names_py_does():
    """What the checks of Traefik's API and the metrics' queries look for is what the file holds."""
    from control_plane.names import SECURE_SUFFIX, TraefikObjects

    n = TraefikObjects("todos")
    doc = yaml.safe_load(traefik.app_routes(app="todos", domain="todos.example.com",
                                    weights={"production": 90, "canary": 10}, mirror=0))
    routers, services = doc["http"]["routers"], doc["http"]["services"]
    assert {n.router(), n.router(SECURE_SUFFIX), n.force_router("canary"),
            n.force_router("production", SECURE_SUFFIX)} <= set(routers)
    assert routers[n.router()]["service"] == n.weighted
    assert set(services) == {n.weighted, n.maintenance}
    assert set(doc["http"]["middlewares"]) == {n.retry}
    shadow = yaml.safe_load(traefik.app_routes(app="todos", domain="todos.example.com",
                                       weights={"production": 100, "canary": 0}, mirror=20))
    assert shadow["http"]["routers"][n.read_router()]["service"] == n.mirror
