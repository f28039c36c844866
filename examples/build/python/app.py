"""A tiny WSGI app for Sentinel's build-from-source examples: gunicorn serves `application`."""
import os

VERSION = os.environ.get("APP_VERSION", "python v1")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        status, body = "200 OK", b"ok\n"
    elif path == "/":
        status, body = "200 OK", f"hello from {VERSION}\n".encode()
    else:
        status, body = "404 Not Found", b"not found\n"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
