"""An update from the console keeps the app's variables it never saw (keep_env)."""
import pytest

from control_plane.errors import InvalidInput
from control_plane.models import AppDeploy
from control_plane.records import App
from control_plane.services.apps import AppService, deploy_env

EXISTING = App(name="todos", env={"SECRET_KEY": "s3cret", "FEATURE_X": "on"})


def test_keep_env_keeps_the_current_variables():
    body = AppDeploy(name="todos", image="todo:2", keep_env=True)
    assert deploy_env(EXISTING, body) == EXISTING.env


def test_without_it_the_variables_are_those_sent_as_before():
    assert deploy_env(EXISTING, AppDeploy(name="todos", image="todo:2", env=["A=1"])) == {"A": "1"}
    assert deploy_env(EXISTING, AppDeploy(name="todos", image="todo:2")) == {}


def test_a_first_deploy_with_keep_env_has_none():
    assert deploy_env(None, AppDeploy(name="new", image="x:1", keep_env=True)) == {}


def test_keep_env_with_env_is_refused():
    class P:  # validate() reads the platform's state first; only the keep_env rule matters here
        store = None
        spec = type("S", (), {"domain": "localhost"})()

        def require_ready(self):
            pass

    with pytest.raises(InvalidInput, match="keep_env"):
        AppService(P(), db=None, backups=None, release=None, cluster=None, stack=None,
                   routes=None, teardown=None).validate(AppDeploy(name="todos", image="todo:2", env=["A=1"], keep_env=True))
