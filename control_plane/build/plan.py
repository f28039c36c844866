"""What a build will do: the Dockerfile (the source's own or a generated one) and the processes.

`make_plan(tree, settings)` is pure: `sentinel build --plan` prints its result, a build runs it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..templates import render
from .procfile import RELEASE, WEB, container_command, is_simple, parse_procfile
from .providers import PROVIDERS, Detection, NoProviderFound, NoStartCommand, Provider
from .settings import BuildSettings
from .source import SourceTree

PROCFILE = "Procfile"

__all__ = ["BuildPlan", "BuildSettings", "make_plan", "NoProviderFound", "NoStartCommand"]


@dataclass(frozen=True)
class BuildPlan:
    kind: str                       # the provider: dockerfile, python, node, go, static
    dockerfile: str                 # the text to build
    dockerfile_path: str | None     # the source's own Dockerfile; None when generated
    processes: dict[str, str]       # name -> command ("release" is not a process)
    release: str | None             # the release phase's command
    health_path: str | None         # a health check path to suggest; None: keep the app's
    notes: tuple[str, ...]          # one line each: what was detected and why
    build_args: dict[str, str] = field(default_factory=dict)

    @property
    def has_web(self) -> bool:
        """Whether something serves traffic: a `web` process, or a source Dockerfile's own CMD."""
        return WEB in self.processes or self.dockerfile_path is not None

    @property
    def web(self) -> str | None:
        return self.processes.get(WEB)


def besides_web(processes: dict[str, str]) -> dict[str, str]:
    """The process types that run as services of their own (everything but web)."""
    return {k: v for k, v in processes.items() if k != WEB}


def no_web(kind: str, processes: dict[str, str]) -> str | None:
    """Why a built source cannot be deployed as an app (every app is routed at its domain, so it
    needs a web process), or None. A source's own Dockerfile serves with its CMD."""
    if kind == "dockerfile" or WEB in processes:
        return None
    return ("the source has no web process (its Procfile lists " + (", ".join(processes) or "none")
            + "): every app is routed at its domain, so add `web: <command listening on $PORT>` "
              "to the Procfile.")


def detect(tree: SourceTree, settings: BuildSettings) -> tuple[Provider, Detection]:
    """The first provider that recognises the source."""
    for provider in PROVIDERS:
        found = provider.detect(tree, settings)
        if found is not None:
            return provider, found
    looked_for = [name for p in PROVIDERS for name in p.looks_for]
    raise NoProviderFound(f"No {', '.join(looked_for[:-1])} or {looked_for[-1]} was found in the "
                          "source, so its kind is not known; add a Dockerfile, which always works.")


def _procfile_notes(procfile: dict[str, str] | None, detected: str | None,
                    own_dockerfile: bool) -> list[str]:
    if procfile is None:
        return [] if detected is None else [f"No Procfile: web runs `{detected}`."]
    names = [n for n in procfile if n != RELEASE]
    notes = [f"Procfile found: processes {', '.join(names) or '(none)'}."]
    if RELEASE in procfile:
        notes.append(f"release runs `{procfile[RELEASE]}` once per release, before the new "
                     "version takes traffic.")
    if WEB not in procfile:
        notes.append("The Procfile has no web process: the image's CMD serves traffic."
                     if own_dockerfile else
                     "The Procfile has no web process: nothing serves traffic (an app with a "
                     "domain needs a `web:` line).")
    for name in names:
        if not is_simple(procfile[name]):
            notes.append(f"{name} is a compound shell command: sh stays its PID 1, so a stop waits "
                         "for the timeout; put it in a script that ends with `exec`.")
    return notes


def make_plan(tree: SourceTree, settings: BuildSettings) -> BuildPlan:
    procfile = parse_procfile(tree.read_text(PROCFILE)) if tree.is_file(PROCFILE) else None
    provider, found = detect(tree, settings)
    if procfile is not None:
        processes = {n: c for n, c in procfile.items() if n != RELEASE}
    else:
        processes = {WEB: found.web} if found.web else {}
    release = procfile.get(RELEASE) if procfile else None
    notes = [*found.notes, *_procfile_notes(procfile, found.web, provider.template is None)]

    if provider.template is None:
        path = found.dockerfile_path
        return BuildPlan(kind=provider.name, dockerfile=tree.read_text(path), dockerfile_path=path,
                         processes=processes, release=release, health_path=found.health_path,
                         notes=tuple(notes), build_args=dict(settings.build_args))

    # The image's CMD: web, else the first process (a worker-only app), each run the same way
    # the platform runs a process (procfile.container_command).
    command = processes.get(WEB) or next(iter(processes.values()), None)
    if command is None:
        raise NoStartCommand(f"The {provider.name} app ({', '.join(provider.looks_for)}) has no "
                             "start command; add a Procfile with a line such as "
                             "`web: <command listening on $PORT>`.")
    dockerfile = render(provider.template, base=settings.base, packages=provider.packages,
                        build_args=sorted(settings.build_args), cmd=container_command(command),
                        **found.values)
    notes.append("Every process gets PORT=8000 (the platform sets it too) and runs as uid 10001.")
    return BuildPlan(kind=provider.name, dockerfile=dockerfile, dockerfile_path=None,
                     processes=processes, release=release, health_path=found.health_path,
                     notes=tuple(notes), build_args=dict(settings.build_args))
