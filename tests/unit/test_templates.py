import pytest
import yaml

from control_plane.records import App, Canary, Database
from control_plane.services.cluster import slow_scrape_interval
from control_plane.templates import render

IMAGES = {"traefik": "t:1", "prometheus": "p:1", "node_exporter": "n:1", "registry": "r:1",
          "task_exporter": "te:1", "grafana": None}


def platform(**kw):
    ctx = dict(images=IMAGES, endpoint_mode="dnsrr", publish_mode="host", throttle="50ms", monitoring_node="c-backup",
               edge_networks=4,
               acme_email=None, acme_server=None, acme_ca=None, https_port=443, tls_redirect=False)
    return yaml.safe_load(render("platform.yml.j2", **{**ctx, **kw}))


def test_platform_stack_uses_dnsrr_and_host_ports():
    s = platform()
    t = s["services"]["traefik"]
    assert not [c for c in t["command"] if c.startswith("--entrypoints.metrics") or "8083" in c]
    assert "--metrics.prometheus.manualrouting=true" in t["command"]
    assert "--web.enable-lifecycle" not in s["services"]["prometheus"]["command"]
    assert t["deploy"]["endpoint_mode"] == "dnsrr"
    assert {p["published"]: p["mode"] for p in t["ports"]} == {80: "host", 443: "host", 8082: "host"}
    assert "--providers.providersThrottleDuration=50ms" in t["command"]
    assert "grafana" not in s["services"]
    assert s["services"]["node-exporter"]["deploy"]["mode"] == "global"


def test_traefik_runs_on_every_manager_and_prometheus_beside_the_registry():
    s = platform()
    t = s["services"]["traefik"]["deploy"]
    assert t["mode"] == "global" and t["placement"]["constraints"] == ["node.role == manager"]
    assert s["services"]["prometheus"]["deploy"]["placement"]["constraints"] == \
        ["node.hostname == c-backup"]
    r = yaml.safe_load(render("registry.yml.j2", images=IMAGES, endpoint_mode="dnsrr",
                              registry_node="c-backup"))
    assert r["services"]["registry"]["deploy"]["placement"]["constraints"] == \
        ["node.hostname == c-backup"]


def test_each_app_gets_an_edge_network_of_its_own_and_only_traefik_joins_them_all():
    s = platform()
    assert sorted(s["services"]["traefik"]["networks"]) == ["edge0", "edge1", "edge2", "edge3", "monitoring"]
    assert [s["networks"][f"edge{i}"]["name"] for i in range(4)] == [f"sentinel-edge-{i}" for i in range(4)]
    assert not s["networks"]["edge0"].get("attachable")
    for other in ("prometheus", "node-exporter", "task-exporter"):
        assert s["services"][other]["networks"] == ["monitoring"]


def test_task_exporter_runs_on_every_node_with_the_socket_and_cgroups_read_only():
    s = platform()
    te = s["services"]["task-exporter"]
    assert te["image"] == "te:1"
    assert te["volumes"] == ["/var/run/docker.sock:/var/run/docker.sock:ro",
                             "/sys/fs/cgroup:/host/cgroup:ro"]
    assert te["networks"] == ["monitoring"]
    assert te["deploy"]["mode"] == "global" and te["deploy"]["endpoint_mode"] == "dnsrr"
    assert te["deploy"]["restart_policy"]["condition"] == "any"
    assert "ports" not in te


@pytest.mark.parametrize("interval, slow", [("1s", "15s"), ("2s", "15s"), ("15s", "15s"), ("30s", "30s"),
                                            ("1m", "1m")])
def test_only_the_judged_series_are_scraped_at_the_fast_interval(interval, slow):
    cfg = yaml.safe_load(render("prometheus.yml.j2", scrape_interval=interval,
                                slow_interval=slow_scrape_interval(interval)))
    assert cfg["global"]["scrape_interval"] == interval
    jobs = {j["job_name"]: j.get("scrape_interval", cfg["global"]["scrape_interval"])
            for j in cfg["scrape_configs"]}
    assert jobs == {"traefik": interval, "tasks": interval, "node": slow, "prometheus": slow}


def test_prometheus_scrapes_the_task_exporter():
    cfg = yaml.safe_load(render("prometheus.yml.j2", scrape_interval="2s", slow_interval="15s"))
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["tasks"]["dns_sd_configs"] == [
        {"names": ["sentinel_task-exporter"], "type": "A", "port": 9323, "refresh_interval": "10s"}]
    assert {"traefik", "node", "prometheus"} <= set(jobs)
    assert jobs["traefik"]["dns_sd_configs"][0]["port"] == 8082  # the admin entrypoint
    assert jobs["traefik"]["basic_auth"] == {"username": "admin",
                                             "password_file": "/etc/sentinel/prometheus/admin_password"}


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


DB = {"user": "todos", "name": "todos", "password_secret": "todos-db-password",
      "image": "reg/postgres:1", "proxy_image": "reg/haproxy:1", "proxy_config": "todos-haproxy-1",
      "proxy_replicas": 2,
      "secrets": {"patroni": "todos-pg-patroni-1", "member_pgbackrest": "todos-pg-member-1",
                  "repo_pgbackrest": "todos-pg-repo-1", "tls_key": "todos-pg-tls-key-1",
                  "tls_cert": "todos-pg-tls-cert-1", "ca": "todos-pg-ca-1",
                  "database_url": "todos-pg-database-url-1"},
      "all_secrets": ["todos-db-password", "todos-pg-database-url-1", "todos-pg-patroni-1"],
      "members": [{"key": "pg-0", "volume_key": "pgdata-0", "node": "c-node-1", "path": None,
                   "replicas": 1},
                  {"key": "pg-1", "volume_key": "pgdata-1", "node": "c-node-0", "path": None,
                   "replicas": 1}],
      "repo": {"host_path": "/var/lib/sentinel/backups/todos", "alias": "backup"}}


def app_stack(**kw):
    from control_plane.services.stack import PROBE_SOURCE, PROBE_TARGET

    web = [{"key": "web", "role": "production", "image": "reg/todo:1", "traefik_name": "todos-production", "internal_host": "todos-production.sentinel.internal",
            "env": {"A": "1", "QUOTE": 'x"y'}, "replicas": 2}]
    ctx = dict(app="todos", port=8000, compose_version="3.12", health_path="/healthz",
               health_check=health_check_of("/healthz"),
               probe={"source": PROBE_SOURCE, "target": PROBE_TARGET},
               endpoint_mode="dnsrr", network="app-todos", db_network="db-todos",
               edge_network="sentinel-edge-3",
               dcs_network="sentinel-dcs", backup_node="node.labels.sentinel.backup == true",
               not_backup_node="node.labels.sentinel.backup != true", web_services=web,
               process_services=[], db=DB)
    return yaml.safe_load(render("app.yml.j2", **{**ctx, **kw}))


def test_app_stack_isolates_the_database():
    s = app_stack()
    # HAProxy alone is on both: the app's tasks reach the database only through it.
    assert s["services"]["db"]["networks"] == ["app", "db"]
    assert "ports" not in s["services"]["db"]
    assert set(s["services"]["pg-0"]["networks"]) == {"db", "dcs"}
    assert s["services"]["pg-0"]["networks"]["db"]["aliases"] == ["pg-0"]
    assert set(s["services"]["backup"]["networks"]) == {"db"}
    assert set(s["services"]["web"]["networks"]) == {"app", "edge"}
    assert s["networks"]["app"]["name"] == "app-todos"
    assert s["networks"]["db"] == {"name": "db-todos", "driver": "overlay"}
    assert s["networks"]["edge"]["external"] is True and s["networks"]["dcs"]["external"] is True


def test_members_are_pinned_apart_and_keep_passwords_in_secrets():
    s = app_stack()["services"]
    assert s["pg-0"]["deploy"]["placement"]["constraints"] == ["node.hostname == c-node-1"]
    assert s["pg-1"]["deploy"]["placement"]["constraints"] == ["node.hostname == c-node-0"]
    env = s["pg-0"]["environment"]
    assert env["PATRONI_NAME"] == "pg-0"
    assert not [k for k in env if "PASSWORD" in k]
    targets = {x["target"] for x in s["pg-0"]["secrets"]}
    assert targets == {"patroni.yml", "pgbackrest.conf", "tls.key", "tls.crt", "ca.crt", "app_password"}
    assert s["pg-0"]["volumes"] == ["pgdata-0:/var/lib/postgresql/data"]


def test_with_object_storage_members_mount_its_ca_and_know_its_address():
    secrets = {**DB["secrets"], "s3_ca": "todos-pg-s3-ca-1"}
    s = app_stack(db={**DB, "secrets": secrets, "repo_hosts": ["s3.internal:10.0.0.5"]})["services"]
    assert s["pg-0"]["extra_hosts"] == ["s3.internal:10.0.0.5"]
    assert {"source": "todos-pg-s3-ca-1", "target": "s3-ca.crt", "mode": 0o400} in s["pg-0"]["secrets"]
    assert "extra_hosts" not in app_stack()["services"]["pg-0"]


def test_a_copy_taken_from_a_copy_source_runs_on_its_folder_and_declares_no_volume():
    member = {"key": "pg-0", "volume_key": "pgdata-0", "node": "c-backup", "replicas": 1,
              "path": "/var/lib/sentinel/fast/todos/copies/todos-pr-1"}
    s = app_stack(app="todos-pr-1", db={**DB, "members": [member]})
    assert s["services"]["pg-0"]["volumes"] == [
        {"type": "bind", "source": "/var/lib/sentinel/fast/todos/copies/todos-pr-1",
         "target": "/var/lib/postgresql/data"}]
    assert s["services"]["pg-0"]["deploy"]["placement"]["constraints"] == ["node.hostname == c-backup"]
    assert "volumes" not in s
    assert app_stack()["volumes"] == {"pgdata-0": {}, "pgdata-1": {}}


def test_the_repository_runs_only_on_the_backup_node_and_nothing_else_does():
    s = app_stack()["services"]
    assert s["backup"]["deploy"]["placement"]["constraints"] == ["node.labels.sentinel.backup == true"]
    assert s["backup"]["volumes"][0]["source"] == "/var/lib/sentinel/backups/todos"
    for key in ("web", "db"):
        assert s[key]["deploy"]["placement"]["constraints"] == ["node.labels.sentinel.backup != true"]
    assert s["db"]["deploy"]["placement"]["max_replicas_per_node"] == 1


def test_health_check_execs_the_nodes_prober_without_a_shell():
    web = app_stack(health_check=health_check_of("/healthz?deep=1&x=%24HOME"))["services"]["web"]
    # CMD, not CMD-SHELL: the path is one argument of the prober, never shell text
    assert web["healthcheck"]["test"] == ["CMD", "/run/sentinel/wget", "-q", "-O", "/dev/null",
                                          "http://127.0.0.1:8000/healthz?deep=1&x=%24HOME"]
    assert web["volumes"] == [{"type": "bind", "source": "/bin/busybox", "target": "/run/sentinel/wget",
                               "read_only": True}]


def test_no_health_path_means_no_health_check_and_no_prober():
    web = app_stack(health_path=None, health_check=health_check_of(None))["services"]["web"]
    assert "healthcheck" not in web and "volumes" not in web
    assert not [k for k in web["deploy"]["labels"] if ".healthcheck." in k]


def health_check_of(path, engine=(26, 1)):
    from control_plane.services.stack import health_check
    return health_check(8000, path, engine)


def test_an_engine_that_knows_start_interval_probes_every_second_while_starting_and_rarely_after():
    from control_plane.services.stack import compose_version

    s = app_stack()
    assert s["version"] == "3.12" == compose_version((26, 1)) == compose_version((25, 0))
    check = s["services"]["web"]["healthcheck"]
    assert (check["start_interval"], check["interval"], check["start_period"], check["retries"]) == \
        ("1s", "10s", "20s", 3)


def test_an_older_engine_gets_a_stack_file_it_reads_and_probes_every_2_s():
    from control_plane.services.stack import compose_version

    for engine in ((20, 10), (24, 0), None):  # None: a node's version could not be read
        s = app_stack(compose_version=compose_version(engine),
                      health_check=health_check_of("/healthz", engine))
        check = s["services"]["web"]["healthcheck"]
        assert s["version"] == "3.8" and "start_interval" not in check, engine
        assert (check["interval"], check["start_period"], check["retries"]) == ("2s", "5s", 3)


def test_the_oldest_engine_of_the_swarm_is_read_from_the_node_list():
    from control_plane.swarm_state import engine_version, oldest_engine

    assert engine_version("26.1.5+dfsg1") == (26, 1)
    assert engine_version("20.10.24+dfsg1") == (20, 10)
    assert engine_version("28.2.2") == (28, 2)
    assert engine_version("") is None and engine_version("dev") is None

    class Nodes:  # what `docker node ls --format '{{json .}}'` gives, as data
        def __init__(self, *versions):
            self.rows = [{"Hostname": f"n{i}", "EngineVersion": v} for i, v in enumerate(versions)]

        def json_lines(self, argv, **kw):
            assert argv[:3] == ["docker", "node", "ls"]
            return self.rows

    assert oldest_engine(Nodes("26.1.5+dfsg1", "26.1.5+dfsg1")) == (26, 1)
    assert oldest_engine(Nodes("26.1.5+dfsg1", "20.10.24+dfsg1")) == (20, 10)
    assert oldest_engine(Nodes("26.1.5", "")) is None and oldest_engine(Nodes()) is None


def test_app_updates_are_start_first_and_roll_back():
    web = app_stack()["services"]["web"]
    assert web["deploy"]["update_config"]["order"] == "start-first"
    assert web["deploy"]["update_config"]["failure_action"] == "rollback"
    assert web["environment"]["QUOTE"] == 'x"y'
    labels = web["deploy"]["labels"]
    assert labels["traefik.http.services.todos-production.loadbalancer.server.port"] == "8000"
    assert labels["traefik.http.services.todos-production.loadbalancer.healthcheck.path"] == "/healthz"
    # the label router exists only so Traefik makes no default one: behind the admin password
    assert labels["traefik.http.routers.todos-production.entrypoints"] == "admin"
    # behind the admin password, which Traefik strips before the app (traefik_platform.yml.j2)
    assert labels["traefik.http.routers.todos-production.middlewares"] == "sentinel-app-auth@file"
    assert labels["traefik.swarm.network"] == "sentinel-edge-3"


def test_web_tasks_get_the_password_and_the_url_as_files_and_members_do_not():
    s = app_stack()["services"]
    assert {(x["source"], x["target"]) for x in s["web"]["secrets"]} == {
        ("todos-db-password", "db_password"), ("todos-pg-database-url-1", "database_url")}
    assert "database_url" not in {x["target"] for x in s["pg-0"]["secrets"]}


def test_database_env_points_the_file_forms_at_the_mounted_secrets():
    from control_plane.services.stack import db_env

    env = db_env("todos", Database(user="todos", name="todos", secret="s"), "pw")
    assert env["DATABASE_URL"].startswith("postgresql://todos:pw@todos_db:5432/todos?connect_timeout=3")
    assert env["DATABASE_URL_FILE"] == "/run/secrets/database_url"
    assert env["PGPASSWORD_FILE"] == "/run/secrets/db_password"


def test_app_without_db():
    s = app_stack(db=None)
    assert "db" not in s["services"] and "volumes" not in s


def test_no_value_can_change_the_stack_structure():
    evil = 'x"\nservices:\n  pwn: {image: evil}\n# "'
    web = [{"key": "web", "role": "production", "image": "reg/todo:1",
            "traefik_name": "todos-production", "internal_host": "todos-production.sentinel.internal", "env": {"EVIL": evil, "DOLLAR": "$HOME"}, "replicas": 1}]
    s = app_stack(web_services=web)
    assert set(s["services"]) == {"web", "db", "pg-0", "pg-1", "backup"}
    assert s["services"]["web"]["environment"]["EVIL"] == evil
    # docker stack deploy turns $$ back into $: the task gets "$HOME", not this machine's HOME
    assert s["services"]["web"]["environment"]["DOLLAR"] == "$$HOME"


def test_a_name_that_is_not_a_token_is_refused():
    import pytest
    from control_plane.templates import TemplateValueError

    web = [{"key": "web", "role": "production", "image": "reg/todo:1",
            "traefik_name": "todos: {x}", "internal_host": "todos: {x}.sentinel.internal", "env": {}, "replicas": 1}]
    with pytest.raises(TemplateValueError):
        app_stack(web_services=web)


def test_resources_are_limits_and_reservations_per_service():
    from control_plane.services.stack import stack_resources

    share = stack_resources({"cpu": 0.5, "memory": "256Mi"})
    assert share == {"limits": {"cpus": "0.5", "memory": "268435456"},
                     "reservations": {"cpus": "0.5", "memory": "268435456"}}
    web = [{"key": "web", "role": "production", "image": "reg/todo:1", "traefik_name": "todos-production", "internal_host": "todos-production.sentinel.internal",
            "env": {}, "replicas": 2, "resources": share},
           {"key": "canary", "role": "canary", "image": "reg/todo:2", "traefik_name": "todos-canary", "internal_host": "todos-canary.sentinel.internal",
            "env": {}, "replicas": 1, "resources": stack_resources({"cpu": None, "memory": "1Gi"})},
           {"key": "baseline", "role": "baseline", "image": "reg/todo:1", "traefik_name": "todos-baseline", "internal_host": "todos-baseline.sentinel.internal",
            "env": {}, "replicas": 1, "resources": None}]
    s = app_stack(web_services=web, db=None)["services"]
    assert s["web"]["deploy"]["resources"]["limits"] == {"cpus": "0.5", "memory": "268435456"}
    assert s["canary"]["deploy"]["resources"] == {"limits": {"memory": "1073741824"},
                                                  "reservations": {"memory": "1073741824"}}
    assert "resources" not in s["baseline"]["deploy"]
    assert stack_resources(None) is None and stack_resources({"cpu": None, "memory": None}) is None


def test_the_canary_runs_its_own_version_whole():
    """env less what it unsets, its own resources; the baseline is production's."""
    from control_plane.services.stack import web_services

    app = App(name="todos", cluster_image="reg/todo:1", replicas=2, env={"A": "1", "OLD": "x"},
              resources={"cpu": 1.0, "memory": None}, db=None)
    canary = {"app": "todos", "image": "todo:2", "cluster_image": "reg/todo:2", "replicas": 1,
              "env": {"A": "2"}, "env_unset": ["OLD"], "resources": {"cpu": 0.5, "memory": None},
              "baseline": True}
    web, can, base = web_services(app, Canary.model_validate(canary), {})
    assert web["env"] == {"PORT": "8000", "A": "1", "OLD": "x", "SENTINEL_VERSION_ROLE": "production"}
    assert can["env"] == {"PORT": "8000", "A": "2", "SENTINEL_VERSION_ROLE": "canary"}
    assert can["resources"]["limits"] == {"cpus": "0.5"} and base["resources"]["limits"] == {"cpus": "1"}
    # A canary record from before resources existed runs with production's.
    del canary["resources"]
    assert web_services(app, Canary.model_validate(canary), {})[1]["resources"]["limits"] == {"cpus": "1"}


def test_the_admin_password_never_reaches_an_app():
    """Traefik's admin routers share one password; in front of an app's own tasks the header is
    removed, so an app cannot read it from a request the control plane makes."""
    doc = yaml.safe_load(render("traefik_platform.yml.j2", domain="example.com",
                                htpasswd_line="admin:$apr1$x$y", grafana=False))
    mw = doc["http"]["middlewares"]
    assert mw["sentinel-app-auth"]["basicAuth"] == {"users": ["admin:$apr1$x$y"], "removeHeader": True}
    assert mw["sentinel-auth"]["basicAuth"]["users"] == ["admin:$apr1$x$y"]


def test_an_app_without_an_edge_slot_joins_no_edge_network_and_traefik_ignores_it():
    # A copy nothing is deployed on, or a release check's scratch copy: never another app's
    # edge network (there was a fallback to sentinel-edge-0, the network of whichever app held it).
    s = app_stack(edge_network=None)
    assert s["services"]["web"]["networks"] == ["app"]
    assert "edge" not in s["networks"]
    labels = s["services"]["web"]["deploy"]["labels"]
    assert labels["traefik.enable"] == "false" and "traefik.swarm.network" not in labels
    assert not [n for n in s["networks"].values() if n.get("name", "").startswith("sentinel-edge")]


def test_process_types_run_as_services_of_their_own_without_traffic_and_are_canaried():
    from control_plane.records import Process
    from control_plane.services.stack import process_services

    app = App(name="todos", image="todo:1", cluster_image="reg/todo:1", replicas=2,
              env={"A": "1"}, processes={"worker": Process(command="python worker.py --n $N",
                                                          replicas=4)})
    canary = Canary.model_validate({"app": "todos", "image": "todo:2", "cluster_image": "reg/todo:2",
                                    "weight": 10, "env": {"B": "2"},
                                    "processes": {"worker": "python worker.py --v2",
                                                  "mailer": "python mail.py"}})
    procs = process_services(app, canary, {"PGHOST": "db"})
    s = app_stack(process_services=procs)["services"]
    worker, canary_worker, mailer = s["worker"], s["canary-worker"], s["canary-mailer"]
    assert worker["entrypoint"] == ["/bin/sh", "-c"]
    assert worker["command"] == ["python worker.py --n $$N"]  # the stack file's $ escaped
    assert worker["networks"] == ["app"] and worker["deploy"]["replicas"] == 4
    assert worker["deploy"]["labels"]["traefik.enable"] == "false"
    assert worker["environment"]["SENTINEL_PROCESS"] == "worker" and worker["environment"]["PGHOST"] == "db"
    assert worker["secrets"] == s["web"]["secrets"] and worker["image"] == "reg/todo:1"
    assert worker["labels"]["sentinel.role"] == "production-worker"  # not the judge's production
    assert canary_worker["image"] == "reg/todo:2" and canary_worker["command"] == ["python worker.py --v2"]
    assert canary_worker["deploy"]["replicas"] == 1  # 10% of 4, at least one
    assert canary_worker["environment"]["B"] == "2"
    assert mailer["deploy"]["replicas"] == 1
    assert "mailer" not in s  # production gets it when the canary is promoted
    assert app_stack()["services"].keys() == {"web", "db", "pg-0", "pg-1", "backup"}


def test_a_new_version_keeps_the_replicas_of_the_process_types_it_keeps():
    from control_plane.records import Process, ProcessSpec
    from control_plane.services.stack import canary_process_replicas, deployed_processes

    small = {"cpu": 0.25, "memory": None}
    now = {"worker": Process(command="a", replicas=3, resources=small), "old": Process(command="o")}
    assert deployed_processes(now, None) == now
    assert deployed_processes(now, {"worker": ProcessSpec(command="b"),
                                    "new": ProcessSpec(command="n")}) == {
        "worker": Process(command="b", replicas=3, resources=small),
        "new": Process(command="n", replicas=1)}
    # sentinel.yaml's processes: says its own replicas and resources
    big = {"cpu": 1.0, "memory": "512Mi"}
    assert deployed_processes(now, {"worker": ProcessSpec(command="b", replicas=0,
                                                          resources=big)}) == {
        "worker": Process(command="b", replicas=0, resources=big)}
    assert [canary_process_replicas(4, w) for w in (0, 10, 50, 100)] == [1, 1, 2, 4]


def test_a_canarys_workers_follow_its_weight_as_it_steps():
    from control_plane.records import Process
    from control_plane.services.stack import canary_process_counts

    app = App(name="todos", image="todo:1", processes={"worker": Process(command="w", replicas=4),
                                                       "mailer": Process(command="m")})
    canary = Canary(app="todos", image="todo:2", weight=10)
    assert canary_process_counts(app, canary) == {"mailer": 1, "worker": 1}  # at least one each
    assert canary_process_counts(app, canary, 60) == {"mailer": 1, "worker": 3}
    assert canary_process_counts(app, canary, 100) == {"mailer": 1, "worker": 4}
    # the new version has no mailer (a canary stored before process settings: name -> command)
    dropped = Canary.model_validate({**canary.model_dump(), "processes": {"worker": "w2"}})
    assert canary_process_counts(app, dropped, 50) == {"worker": 2}


def test_a_web_process_that_never_answers_its_health_check_is_told_about_port():
    from control_plane import names
    from control_plane.services.stack import unhealthy_web

    app = App(name="shop", image="s:1", port=8000, health_path="/healthz")
    said = unhealthy_web(app, "canary")
    assert "The canary web process of shop never answered its health check (GET /healthz on " \
           "port 8000): a web process must listen on 0.0.0.0:$PORT (PORT=8000" in said
    assert "`sentinel inspect logs shop --canary`" in said
    assert unhealthy_web(app.changed(health_path=None), "production") == ""
    assert [names.web_role(s) for s in ("shop_web", "shop_canary", "shop_baseline", "shop_worker",
                                        "shop_canary-worker", "shop_pg-0", "web")] == [
        "production", "canary", "baseline", None, None, None, None]


def test_a_deploy_that_raced_a_rolling_update_is_sent_again_and_nothing_else_is():
    from control_plane.services.stack import out_of_sequence
    seen = ("docker stack deploy failed: failed to update service ledger_backup: Error response "
            "from daemon: rpc error: code = Unknown desc = update out of sequence")
    assert out_of_sequence(seen)
    assert not out_of_sequence("docker stack deploy failed: image todo:9 not found")
