"""control_plane.build: provider detection and precedence, the generated Dockerfiles (golden
text), Procfile processes, and values that try to add a Dockerfile instruction."""
import json

import pytest

from control_plane.build.plan import BuildPlan, BuildSettings, make_plan
from control_plane.build.procfile import ProcfileSyntaxError
from control_plane.build.providers import PROVIDERS, NoProviderFound, NoStartCommand
from control_plane.build.providers.dockerfile import DockerfileNotFound
from control_plane.build.providers.go import binary_name
from control_plane.build.providers.python import PyprojectError
from control_plane.build.settings import BuildSettingsError
from control_plane.build.source import SourceTree
from control_plane.templates import TemplateValueError, parse_dockerfile, render

BASE = "10.0.0.2:5000/sentinel/base-trixie:abc"
SETTINGS = BuildSettings(base=BASE)


def plan(files: dict, **settings) -> BuildPlan:
    return make_plan(SourceTree.from_files(files), BuildSettings(base=BASE, **settings))


def instructions(dockerfile: str) -> list[str]:
    return [i for i, _ in parse_dockerfile(dockerfile)]


def cmd(p: BuildPlan) -> list[str]:
    return json.loads([a for i, a in parse_dockerfile(p.dockerfile) if i == "CMD"][-1])


FLASK = "from flask import Flask\napp = Flask(__name__)\n"
PKG = json.dumps({"name": "x", "scripts": {"start": "node server.js"}})


# ---------------------------------------------------------------- detection and precedence

def test_providers_in_order_dockerfile_first_static_last():
    assert [p.name for p in PROVIDERS] == ["dockerfile", "go", "python", "node", "static"]


@pytest.mark.parametrize("files, kind", [
    ({"Dockerfile": "FROM x\n", "requirements.txt": "", "package.json": "{}", "index.html": ""},
     "dockerfile"),
    ({"go.mod": "module a\n", "main.go": "package main\n", "package.json": PKG}, "go"),
    ({"requirements.txt": "flask\n", "app.py": FLASK, "package.json": PKG}, "python"),
    ({"pyproject.toml": "[project]\nname='a'\n", "main.py": ""}, "python"),
    ({"package.json": PKG, "index.html": ""}, "node"),
    ({"index.html": ""}, "static"),
    ({"public/index.html": ""}, "static"),
    ({"dist/index.html": ""}, "static"),
])
def test_the_first_provider_that_recognises_the_source_wins(files, kind):
    assert plan(files).kind == kind


def test_nothing_recognised_names_what_was_looked_for_and_that_a_dockerfile_works():
    with pytest.raises(NoProviderFound) as e:
        plan({"README.md": "hi", "src/index.html": ""})
    message = str(e.value)
    for name in ("Dockerfile", "requirements.txt", "pyproject.toml", "package.json", "go.mod",
                 "index.html"):
        assert name in message
    assert "a Dockerfile, which always works" in message and message.count(". ") == 0


def test_an_ignored_manifest_is_not_seen():
    with pytest.raises(NoProviderFound):
        plan({".dockerignore": "requirements.txt\n", "requirements.txt": "flask\n", "app.py": FLASK})


def test_a_source_dockerfile_is_used_as_it_is():
    p = plan({"Dockerfile": "FROM busybox\nCMD [\"httpd\"]\n", "app.py": FLASK})
    assert (p.kind, p.dockerfile_path, p.dockerfile) == ("dockerfile", "Dockerfile",
                                                         "FROM busybox\nCMD [\"httpd\"]\n")
    assert p.processes == {} and p.has_web and p.release is None
    assert p.notes[0] == "Dockerfile found: built as it is (a Dockerfile always wins)."


def test_the_settings_dockerfile_path_wins_and_must_exist():
    p = plan({"deploy/Prod.Dockerfile": "FROM y\n", "Dockerfile": "FROM x\n"},
             dockerfile="deploy/Prod.Dockerfile")
    assert (p.dockerfile_path, p.dockerfile) == ("deploy/Prod.Dockerfile", "FROM y\n")
    with pytest.raises(DockerfileNotFound, match="deploy/Nope named by the build settings is not in the source"):
        plan({"Dockerfile": "FROM x\n"}, dockerfile="deploy/Nope")


# ---------------------------------------------------------------- python

def test_python_wsgi_with_gunicorn():
    p = plan({"requirements.txt": "Flask==3.0\ngunicorn[gevent]>=22 ; python_version>'3'\n",
              "app.py": FLASK})
    assert p.processes == {"web": "gunicorn --bind 0.0.0.0:$PORT app:app"}
    assert cmd(p) == ["sh", "-c", "exec gunicorn --bind 0.0.0.0:$PORT app:app"]
    assert p.health_path is None and p.release is None


def test_python_plain_wsgi_function_in_another_file():
    p = plan({"requirements.txt": "gunicorn\n",
              "hello.py": "def application(environ, start_response):\n    pass\n"})
    assert p.web == "gunicorn --bind 0.0.0.0:$PORT hello:application"


def test_python_asgi_with_uvicorn_from_pyproject():
    p = plan({"pyproject.toml": '[project]\nname = "a"\ndependencies = ["FastAPI", "uvicorn[standard]>=0.29"]\n',
              "main.py": "import fastapi\nserver = fastapi.FastAPI()\n"})
    assert p.web == "uvicorn main:server --host 0.0.0.0 --port $PORT"
    assert 'COPY ["pyproject.toml", "./"]' in p.dockerfile


def test_python_django_project():
    p = plan({"requirements.txt": "django\ngunicorn\n", "manage.py": "", "shop/wsgi.py": "",
              "shop/settings.py": ""})
    assert p.web == "gunicorn --bind 0.0.0.0:$PORT shop.wsgi:application"


def test_python_app_without_its_server_falls_back_to_the_script_and_says_why():
    p = plan({"requirements.txt": "flask\n", "app.py": FLASK, "runtime.txt": "python-3.11"})
    assert p.web == "python3 app.py"
    assert any("gunicorn is not in requirements.txt; add it" in n for n in p.notes)
    assert any("runtime.txt is not followed" in n for n in p.notes)


def test_python_script_when_no_framework():
    assert plan({"requirements.txt": "", "main.py": "print(1)\n"}).web == "python3 main.py"


def test_python_without_anything_to_start_is_one_sentence():
    with pytest.raises(NoStartCommand, match="add a Procfile with a line such as `web: "):
        plan({"requirements.txt": "requests\n", "lib.py": "x = 1\n"})


def test_python_bad_pyproject():
    with pytest.raises(PyprojectError, match="pyproject.toml is not valid TOML"):
        plan({"pyproject.toml": "[project\n"})


# ---------------------------------------------------------------- node

def test_node_lockfile_means_npm_ci_and_no_build_means_no_dev_dependencies():
    p = plan({"package.json": PKG, "package-lock.json": "{}", "server.js": ""})
    assert "npm ci --omit=dev " in p.dockerfile and "npm run build" not in p.dockerfile
    assert p.web == "node server.js"
    p = plan({"package.json": PKG, "server.js": ""})
    assert "npm install --omit=dev " in p.dockerfile and 'COPY ["package.json", "./"]' in p.dockerfile


@pytest.mark.parametrize("package, files, web", [
    ({"scripts": {"start": "node --enable-source-maps srv.js"}}, {}, "node --enable-source-maps srv.js"),
    ({"main": "lib/main server.js"}, {"lib/main server.js": ""}, "node 'lib/main server.js'"),
    ({"main": "missing.js"}, {"server.js": ""}, "node server.js"),
    ({}, {"index.js": "", "server.js": ""}, "node index.js"),
])
def test_node_start_command(package, files, web):
    assert plan({"package.json": json.dumps(package), **files}).web == web


def test_node_npm_stays_in_the_image_only_when_a_command_calls_it():
    final = lambda p: p.dockerfile.split("# Last stage")[1]
    assert "install -y --no-install-recommends npm" not in final(plan({"package.json": PKG}))
    with_npm = plan({"package.json": json.dumps({"scripts": {"start": "npm run serve"}})})
    assert "install -y --no-install-recommends npm" in final(with_npm)
    via_procfile = plan({"package.json": PKG, "Procfile": "web: npx serve -l $PORT\n"})
    assert "install -y --no-install-recommends npm" in final(via_procfile)


def test_node_without_anything_to_start():
    with pytest.raises(NoStartCommand):
        plan({"package.json": "{}"})


# ---------------------------------------------------------------- go

@pytest.mark.parametrize("module, name", [("example.com/sentinel/hello", "hello"),
                                          ("github.com/acme/shop/v2", "shop"),
                                          ("My_Tool", "my_tool"), ("example.com/ÜÏ", "app"), (None, "app")])
def test_go_binary_name_from_the_module_path(module, name):
    assert binary_name(module) == name


def test_go_root_main_package_and_a_newer_go_directive_noted():
    p = plan({"go.mod": "module example.com/hello\n\ngo 1.25\n", "main.go": "package main\n",
              "main_test.go": "package main\n"})
    assert p.web == "hello" and "go build -trimpath -ldflags=-s -o /out/hello /src\n" in p.dockerfile
    assert 'COPY ["go.mod", "./"]' in p.dockerfile
    assert any("asks for go 1.25, newer than 1.24" in n for n in p.notes)


def test_go_without_a_main_package():
    with pytest.raises(NoStartCommand):
        plan({"go.mod": "module a\n", "lib.go": "package a\n"})


# ---------------------------------------------------------------- static

def test_static_site_suggests_the_root_as_health_path():
    p = plan({"index.html": "<h1>x</h1>"})
    assert p.health_path == "/" and 'COPY [".", "/srv/www/"]' in p.dockerfile
    assert cmd(p) == ["sh", "-c", "trap 'exit 0' TERM INT; busybox httpd -f -v -p $PORT -h /srv/www & wait"]


# ---------------------------------------------------------------- Procfile

def test_procfile_gives_the_processes_and_the_release_phase():
    p = plan({"requirements.txt": "gunicorn\n", "app.py": FLASK,
              "Procfile": "web: gunicorn -w 4 -b 0.0.0.0:$PORT app:app\nworker: python worker.py\n"
                          "release: python migrate.py up\n"})
    assert p.processes == {"web": "gunicorn -w 4 -b 0.0.0.0:$PORT app:app", "worker": "python worker.py"}
    assert p.release == "python migrate.py up" and p.has_web
    assert cmd(p) == ["sh", "-c", "exec gunicorn -w 4 -b 0.0.0.0:$PORT app:app"]
    assert "Procfile found: processes web, worker." in p.notes


def test_procfile_without_web_is_allowed_and_has_web_says_so():
    p = plan({"requirements.txt": "", "app.py": "", "Procfile": "worker: python worker.py\n"})
    assert p.processes == {"worker": "python worker.py"} and not p.has_web and p.web is None
    assert cmd(p) == ["sh", "-c", "exec python worker.py"]  # the detected `python3 app.py` is not added
    assert any("no web process: nothing serves traffic" in n for n in p.notes)
    # With the source's own Dockerfile, its CMD is the web process.
    own = plan({"Dockerfile": "FROM x\n", "Procfile": "worker: w\n"})
    assert own.has_web and own.processes == {"worker": "w"}


def test_a_compound_procfile_command_is_noted():
    p = plan({"index.html": "", "Procfile": "web: ./prepare.sh && busybox httpd -f -p $PORT\n"})
    assert cmd(p) == ["sh", "-c", "./prepare.sh && busybox httpd -f -p $PORT"]
    assert any("web is a compound shell command" in n for n in p.notes)


def test_a_bad_procfile_fails_the_plan():
    with pytest.raises(ProcfileSyntaxError, match="line 2"):
        plan({"index.html": "", "Procfile": "web: x\nRUN rm -rf /\n"})


# ---------------------------------------------------------------- settings

@pytest.mark.parametrize("kwargs, message", [
    (dict(base="x y"), "is not an image name"),
    (dict(base="img:1\nRUN rm -rf /"), "is not an image name"),
    (dict(base=""), "is not an image name"),
    (dict(base="b:1", dockerfile="../Dockerfile"), "not inside the source"),
    (dict(base="b:1", dockerfile="/etc/Dockerfile"), "not inside the source"),
    (dict(base="b:1", build_args={"A B": "1"}), "is not a valid name"),
    (dict(base="b:1", build_args={"X\nRUN y": "1"}), "is not a valid name"),
    (dict(base="b:1", build_args={"SENTINEL_CA": "1"}), "set by Sentinel itself"),
    (dict(base="b:1", build_args={"A": "x" * 5000}), "at most 4096 characters"),
    (dict(base="b:1", context="../app"), "build context '../app' is not inside the source"),
    (dict(base="b:1", context="/srv/app"), "is not inside the source"),
])
def test_bad_settings_are_one_sentence(kwargs, message):
    with pytest.raises(BuildSettingsError, match=message):
        BuildSettings(**kwargs)


def test_build_args_are_declared_where_the_build_runs_and_kept_in_the_plan():
    p = plan({"package.json": json.dumps({"scripts": {"build": "vite build", "start": "node s.js"}})},
             build_args={"VITE_API": "https://api", "A": "1"})
    build_stage = p.dockerfile.split("FROM deps AS build")[1].split("# Last stage")[0]
    assert "ARG A\nARG VITE_API\nRUN npm run build" in build_stage
    assert p.build_args == {"VITE_API": "https://api", "A": "1"}
    assert "https://api" not in p.dockerfile  # values are passed at build time, never written


# ---------------------------------------------------------------- injection

HOSTILE = ['x"]\nRUN rm -rf /', "x\\\nRUN rm -rf /", "a'b\"c\\d$(e)`f`\r\nUSER root",
           "x\u2028RUN y\u0085RUN z", '"], "--privileged', "\\"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_start_script_cannot_add_an_instruction(value):
    p = plan({"package.json": json.dumps({"scripts": {"start": value}})})
    assert instructions(p.dockerfile) == instructions(plan({"package.json": PKG}).dockerfile)
    assert cmd(p)[2].endswith(value.strip()) and len(cmd(p)) == 3


@pytest.mark.parametrize("value", HOSTILE)
def test_a_procfile_command_cannot_add_an_instruction(value):
    line = value.replace("\n", " ").replace("\r", " ")  # a Procfile line is one line
    line = "".join(c for c in line if c in ("\t",) or ord(c) >= 0x20 and c != "\x7f")
    p = plan({"index.html": "", "Procfile": f"web: {line}\nworker: {line}\n"})
    assert instructions(p.dockerfile) == instructions(plan({"index.html": ""}).dockerfile)
    assert cmd(p)[2].endswith(line.strip())


@pytest.mark.parametrize("value", HOSTILE)
def test_a_node_main_cannot_add_an_instruction(value):
    p = plan({"package.json": json.dumps({"main": value}), value: ""})
    assert instructions(p.dockerfile) == instructions(plan({"package.json": PKG}).dockerfile)


@pytest.mark.parametrize("value", HOSTILE)
def test_every_template_value_stays_one_json_value(value):
    common = dict(base=BASE, packages=("nodejs",), build_args=[], cmd=["sh", "-c", value])
    text = render("build/node.Dockerfile.j2", manifests=[value, "package.json"], ci=True, build=False,
                  tools=["npm"], npm_at_runtime=False, **common)
    copies = [json.loads(a) for i, a in parse_dockerfile(text) if i == "COPY" and a.startswith("[")]
    assert copies == [[value, "package.json", "./"]]
    with pytest.raises(TemplateValueError):
        render("build/static.Dockerfile.j2", folder="", site=value, **common)
    with pytest.raises(TemplateValueError):
        render("build/go.Dockerfile.j2", manifests=["go.mod"], binary="app", package=value,
               vendor=False, **common)


def test_parse_dockerfile_refuses_an_unknown_instruction_or_a_broken_exec_form():
    assert parse_dockerfile("# c\nFROM x \\\n  AS y\n\nRUN a \\\n# note\n  && b\n") == [
        ("FROM", "x   AS y"), ("RUN", "a   && b")]
    with pytest.raises(TemplateValueError, match="line 2 .* 'rm'"):
        parse_dockerfile("FROM x\nrm -rf /\n")
    with pytest.raises(TemplateValueError, match="not a JSON array of strings"):
        parse_dockerfile('FROM x\nCMD ["sh", "-c", "a"\n')
    with pytest.raises(TemplateValueError, match="not a JSON array of strings"):
        parse_dockerfile('FROM x\nCOPY --from=a ["a", 1]\n')


# ---------------------------------------------------------------- golden Dockerfiles

def test_generated_python_dockerfile():
    p = plan({"requirements.txt": "gunicorn==23.0.0\nflask>=3  # web\n", "app.py": FLASK})
    assert p.dockerfile == PYTHON


def test_generated_node_dockerfile():
    p = plan({"package.json": json.dumps({"scripts": {"build": "tsc", "start": "node dist/server.js"}}),
              "package-lock.json": "{}", "src/server.ts": ""}, build_args={"API_URL": "x"})
    assert p.dockerfile == NODE


def test_generated_go_dockerfile():
    p = plan({"go.mod": "module github.com/acme/shop/v2\n\ngo 1.23\n", "go.sum": "x\n",
              "cmd/shop/main.go": "package main\n", "internal/x.go": "package x\n"})
    assert p.dockerfile == GO


def test_generated_static_dockerfile():
    assert plan({"public/index.html": "<h1>x</h1>", "README.md": "x"}).dockerfile == STATIC


PYTHON = r"""
# Generated by Sentinel's python provider (`sentinel build --eject` writes it into the source).
# Stage 1: the dependencies, in a venv, from the manifest alone (a code change reuses this layer).
FROM 10.0.0.2:5000/sentinel/base-trixie:abc AS deps
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY ["requirements.txt", "./"]
ARG SENTINEL_CA=""
RUN set -e; ca=""; \
    if [ -n "$SENTINEL_CA" ]; then \
      ca="$(mktemp)"; cat /etc/ssl/certs/ca-certificates.crt > "$ca"; \
      printf '%s\n' "$SENTINEL_CA" >> "$ca"; \
      export SSL_CERT_FILE="$ca" PIP_CERT="$ca" NPM_CONFIG_CAFILE="$ca" GIT_SSL_CAINFO="$ca"; \
    fi; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r requirements.txt; \
    if [ -n "$ca" ]; then rm -f "$ca"; fi

# Stage 2: the app.
FROM 10.0.0.2:5000/sentinel/base-trixie:abc
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 10001 --user-group --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin app
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY . /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
ENV PORT=8000
USER 10001:10001
EXPOSE 8000
CMD ["sh", "-c", "exec gunicorn --bind 0.0.0.0:$PORT app:app"]
"""[1:]

NODE = r"""
# Generated by Sentinel's node provider (`sentinel build --eject` writes it into the source).
# Stage 1: node_modules, from package.json and the lockfile alone (a code change reuses this layer).
FROM 10.0.0.2:5000/sentinel/base-trixie:abc AS deps
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY ["package.json", "package-lock.json", "./"]
ARG SENTINEL_CA=""
RUN set -e; ca=""; \
    if [ -n "$SENTINEL_CA" ]; then \
      ca="$(mktemp)"; cat /etc/ssl/certs/ca-certificates.crt > "$ca"; \
      printf '%s\n' "$SENTINEL_CA" >> "$ca"; \
      export SSL_CERT_FILE="$ca" PIP_CERT="$ca" NPM_CONFIG_CAFILE="$ca" GIT_SSL_CAINFO="$ca"; \
    fi; \
    npm ci --no-audit --no-fund --cache /tmp/npm-cache; \
    rm -rf /tmp/npm-cache; mkdir -p node_modules; \
    if [ -n "$ca" ]; then rm -f "$ca"; fi

# Stage 2: the build, then only the production dependencies kept.
FROM deps AS build
COPY . /app
ARG API_URL
RUN npm run build && npm prune --omit=dev --no-audit --no-fund --cache /tmp/npm-cache \
 && rm -rf /tmp/npm-cache

# Last stage: the app, on nodejs alone unless a command calls npm.
FROM 10.0.0.2:5000/sentinel/base-trixie:abc
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 10001 --user-group --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /app /app
ENV PATH=/app/node_modules/.bin:$PATH \
    NODE_ENV=production
ENV PORT=8000
USER 10001:10001
EXPOSE 8000
CMD ["sh", "-c", "exec node dist/server.js"]
"""[1:]

GO = r"""
# Generated by Sentinel's go provider (`sentinel build --eject` writes it into the source).
# Stage 1: the modules, from go.mod/go.sum alone (a code change reuses this layer), then the binary.
FROM 10.0.0.2:5000/sentinel/base-trixie:abc AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends golang-go \
 && rm -rf /var/lib/apt/lists/*
# The Go that Debian ships is the one used: never download another toolchain.
ENV GOTOOLCHAIN=local CGO_ENABLED=0
# The standard library compiled once into Go's build cache, a layer every Go app shares: a
# one-line change then recompiles only the app's own packages.
RUN go build -trimpath std
WORKDIR /src
COPY ["go.mod", "go.sum", "./"]
ARG SENTINEL_CA=""
RUN set -e; ca=""; \
    if [ -n "$SENTINEL_CA" ]; then \
      ca="$(mktemp)"; cat /etc/ssl/certs/ca-certificates.crt > "$ca"; \
      printf '%s\n' "$SENTINEL_CA" >> "$ca"; \
      export SSL_CERT_FILE="$ca" PIP_CERT="$ca" NPM_CONFIG_CAFILE="$ca" GIT_SSL_CAINFO="$ca"; \
    fi; \
    go mod download; \
    if [ -n "$ca" ]; then rm -f "$ca"; fi
COPY . /src
RUN go build -trimpath -ldflags=-s -o /out/shop /src/cmd/shop

# Stage 2: the binary alone.
FROM 10.0.0.2:5000/sentinel/base-trixie:abc
RUN useradd --uid 10001 --user-group --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin app
COPY --from=build /out/shop /app/bin/shop
WORKDIR /app
ENV PATH=/app/bin:$PATH
ENV PORT=8000
USER 10001:10001
EXPOSE 8000
CMD ["sh", "-c", "exec shop"]
"""[1:]

STATIC = r"""
# Generated by Sentinel's static provider (`sentinel build --eject` writes it into the source).
FROM 10.0.0.2:5000/sentinel/base-trixie:abc
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends busybox \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 10001 --user-group --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin app
WORKDIR /srv/www
COPY ["public/", "/srv/www/"]
ENV PORT=8000
USER 10001:10001
EXPOSE 8000
CMD ["sh", "-c", "trap 'exit 0' TERM INT; busybox httpd -f -v -p $PORT -h /srv/www & wait"]
"""[1:]

