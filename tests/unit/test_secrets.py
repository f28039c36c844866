"""The secrets store under concurrent first use: every caller gets the same value and none is lost."""
import json
import multiprocessing
import os
import threading


def _take(home, keys, out):
    os.environ["SENTINEL_HOME"] = home
    from control_plane import secrets

    out.put({k: secrets.get(k) for k in keys})


def test_concurrent_first_use_from_threads_and_processes_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    from control_plane import secrets

    keys = [f"db_app{i}" for i in range(8)]
    got = {}
    threads = [threading.Thread(target=lambda k=k: got.__setitem__(k, secrets.get(k))) for k in keys]
    q = multiprocessing.get_context("fork").Queue()
    procs = [multiprocessing.get_context("fork").Process(target=_take, args=(str(tmp_path), keys, q))
             for _ in range(3)]
    for t in threads + procs:
        t.start()
    for t in threads + procs:
        t.join()
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert all(stored[k] == got[k] for k in keys)
    for _ in procs:
        assert q.get(timeout=10) == {k: stored[k] for k in keys}
    assert oct((tmp_path / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".secrets-")]


def test_an_apps_database_credentials_are_forgotten_and_no_other_apps(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    from control_plane import names, secrets

    keep = {k: secrets.get(k) for k in names.db_credentials("shop-eu") + ["api_token"]}
    gone = [secrets.get(k) for k in names.db_credentials("shop")]
    assert secrets.forget(names.db_credentials("shop")) == names.db_credentials("shop")
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert stored == keep and not set(gone) & set(stored.values())
    assert secrets.forget(names.db_credentials("shop")) == []  # twice: nothing left to forget
    assert names.db_credentials("shop") == ["db_shop", "db_shop_superuser", "db_shop_replication",
                                            "db_shop_restapi", "db_shop_etcd"]
