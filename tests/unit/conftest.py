"""Unit tests never touch the machine's own SENTINEL_HOME (~/.sentinel): every test gets a
private one, unless it sets its own."""
import pytest


@pytest.fixture(scope="session")
def _unit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("sentinel-home")


@pytest.fixture(autouse=True)
def _private_sentinel_home(monkeypatch, _unit_home):
    monkeypatch.setenv("SENTINEL_HOME", str(_unit_home))
