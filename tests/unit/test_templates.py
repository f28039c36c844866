import yaml

from control_plane.templates import render

IMAGES = {"traefik": "t:1", "prometheus": "p:1", "node_exporter": "n:1", "registry": "r:1",
          "task_exporter": "te:1", "grafana": None}


def platform(**kw):
    ctx = dict(images=IMAGES, endpoint_mode="dnsrr", publish_mode="host", throttle="50ms",
               acme_email=None, acme_server=None, acme_ca=None, https_port=443, tls_redirect=False)
    return yaml.safe_load(render("platform.yml.j2", **{**ctx, **kw}))


def test_platform_stack_uses_dnsrr_and_host_ports():
    s = platform()
    t = s["services"]["traefik"]
    assert t["deploy"]["endpoint_mode"] == "dnsrr"
    assert {p["published"]: p["mode"] for p in t["ports"]} == {80: "host", 443: "host", 8082: "host"}
    assert "--providers.providersThrottleDuration=50ms" in t["command"]
    assert "grafana" not in s["services"]
    assert s["services"]["node-exporter"]["deploy"]["mode"] == "global"


def test_task_exporter_runs_on_every_node_with_the_socket_read_only():
    s = platform()
    te = s["services"]["task-exporter"]
    assert te["image"] == "te:1"
    assert te["volumes"] == ["/var/run/docker.sock:/var/run/docker.sock:ro"]
    assert te["networks"] == ["monitoring"]
    assert te["deploy"]["mode"] == "global" and te["deploy"]["endpoint_mode"] == "dnsrr"
    assert te["deploy"]["restart_policy"]["condition"] == "any"
    assert "ports" not in te


def test_prometheus_scrapes_the_task_exporter():
    cfg = yaml.safe_load(render("prometheus.yml.j2", scrape_interval="2s"))
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["tasks"]["dns_sd_configs"] == [
        {"names": ["sentinel_task-exporter"], "type": "A", "port": 9323, "refresh_interval": "10s"}]
    assert {"traefik", "node", "prometheus"} <= set(jobs)


def test_vip_and_ingress_are_settings():
    t = platform(endpoint_mode="vip", publish_mode="ingress")["services"]["traefik"]
    assert t["deploy"]["endpoint_mode"] == "vip"
    assert t["ports"][0]["mode"] == "ingress"


def test_acme_settings():
    cmd = platform(acme_email="ops@example.com", acme_server="https://pebble:14000/dir",
                   tls_redirect=True)["services"]["traefik"]["command"]
    assert "--certificatesresolvers.acme.acme.email=ops@example.com" in cmd
    assert "--certificatesresolvers.acme.acme.caserver=https://pebble:14000/dir" in cmd
    assert "--entrypoints.web.http.redirections.entrypoint.to=websecure" in cmd
    assert "environment" not in platform(acme_email="ops@example.com")["services"]["traefik"]


def test_no_acme_no_resolver_and_no_redirect():
    t = platform()["services"]["traefik"]
    assert not [c for c in t["command"] if "certificatesresolvers" in c or "redirections" in c]
    assert "environment" not in t


def test_acme_ca_bundle_is_given_to_lego():
    t = platform(acme_email="ops@example.com", acme_server="https://172.28.0.1:14000/dir",
                 acme_ca="/etc/sentinel/traefik/acme/ca.pem", tls_redirect=True)["services"]["traefik"]
    assert t["environment"] == {"LEGO_CA_CERTIFICATES": "/etc/sentinel/traefik/acme/ca.pem"}
    # the file lives in the folder mounted into Traefik
    assert "/etc/sentinel/traefik:/etc/sentinel/traefik" in t["volumes"]


def test_acme_ca_without_email_is_ignored():
    assert "environment" not in platform(acme_ca="/x.pem")["services"]["traefik"]


def test_redirect_points_at_the_published_https_port():
    cmd = platform(acme_email="ops@example.com", tls_redirect=True,
                   https_port=19443)["services"]["traefik"]["command"]
    assert "--entrypoints.web.http.redirections.entrypoint.to=:19443" in cmd
    assert "--entrypoints.web.http.redirections.entrypoint.scheme=https" in cmd


def app_stack(**kw):
    web = [{"key": "web", "role": "production", "image": "reg/todo:1", "traefik_name": "todos-production",
            "env": {"A": "1", "QUOTE": 'x"y'}, "replicas": 2}]
    ctx = dict(app="todos", port=8000, health_path="/healthz", endpoint_mode="dnsrr",
               web_services=web, db={"user": "todos", "name": "todos", "secret": "todos-db-password",
                                     "node": "c-node-1", "image": "reg/postgres:1"})
    return yaml.safe_load(render("app.yml.j2", **{**ctx, **kw}))


def test_app_stack_isolates_the_database():
    s = app_stack()
    assert s["services"]["db"]["networks"] == ["app"]
    assert "ports" not in s["services"]["db"]
    assert set(s["services"]["web"]["networks"]) == {"app", "edge"}
    assert s["networks"]["app"]["name"] == "app-todos"
    assert s["networks"]["edge"]["external"] is True


def test_app_stack_keeps_the_password_out_of_the_database_env():
    db = app_stack()["services"]["db"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert "POSTGRES_PASSWORD" not in db["environment"]
    assert db["deploy"]["placement"]["constraints"] == ["node.hostname == c-node-1"]


def test_app_updates_are_start_first_and_roll_back():
    web = app_stack()["services"]["web"]
    assert web["deploy"]["update_config"]["order"] == "start-first"
    assert web["deploy"]["update_config"]["failure_action"] == "rollback"
    assert web["environment"]["QUOTE"] == 'x"y'
    labels = web["deploy"]["labels"]
    assert labels["traefik.http.services.todos-production.loadbalancer.server.port"] == "8000"
    assert labels["traefik.http.services.todos-production.loadbalancer.healthcheck.path"] == "/healthz"


def test_app_without_db():
    s = app_stack(db=None)
    assert "db" not in s["services"] and "volumes" not in s
