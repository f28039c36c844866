"""`sentinel canary report` builds the page's URL: app and token in the fragment only."""
from urllib.parse import parse_qs, urlsplit

from cli.canary_cmds import report_url


def test_app_and_token_go_in_the_fragment():
    assert report_url("http://127.0.0.1:8765", "abc", "todos") == "http://127.0.0.1:8765/ui#app=todos&token=abc"


def test_a_trailing_slash_and_no_app():
    assert report_url("http://127.0.0.1:8765/", "abc") == "http://127.0.0.1:8765/ui#token=abc"


def test_odd_characters_survive_the_round_trip():
    url = report_url("https://cp.example:8443", "a+b/c=d&e f", "my-app")
    parts = urlsplit(url)
    assert parts.path == "/ui" and parts.query == ""
    assert parse_qs(parts.fragment) == {"app": ["my-app"], "token": ["a+b/c=d&e f"]}
