"""An app's routes: Traefik's file-provider file for it (weighted production/canary/baseline,
sticky sessions, a mirror, maintenance), written and waited for until Traefik serves it. The one
place the weights of a canary become routes."""
from __future__ import annotations

from .. import names, traefik
from ..errors import CommandFailed
from ..platform import Platform
from ..records import App, Canary

ACME_RESOLVER = "acme"  # the certificate resolver compose_templates/platform.yml.j2 defines
PRODUCTION_ONLY = {"production": 100}


def app_domains(app: App) -> list[str]:
    """Every domain of an app, its main one first (apps from before several domains have one)."""
    return app.domains or ([app.domain] if app.domain else [])


def weights_for(weight: int, baseline: bool) -> dict[str, int]:
    """Route `weight`% to the canary (and as much to a baseline), the rest to production."""
    if baseline:
        return {"production": 100 - 2 * weight, "canary": weight, "baseline": weight}
    return {"production": 100 - weight, "canary": weight}


def routing(canary: Canary) -> dict:
    """Routes.write's arguments for a canary as it stands. A shadow canary (mirror) is mirrored
    only while its weight is 0: once it takes real traffic, copies would blur its figures."""
    return {"weights": weights_for(canary.weight, canary.baseline),
            "sticky": canary.sticky,
            "mirror": canary.mirror if canary.weight == 0 else 0}


class Routes:
    def __init__(self, platform: Platform):
        self.p = platform

    def write(self, app: App, weights: dict[str, int], sticky: bool = True,
              wait: bool = True, maintenance: bool = False, mirror: int = 0) -> None:
        """The app's routes as given; with `wait`, until Traefik serves exactly them."""
        spec = self.p.spec
        writer = self.p.traefik()
        mirror = 0 if maintenance else mirror
        writer.write(names.traefik_file(app.name), traefik.app_routes(
            app=app.name, domains=app_domains(app), weights=weights, sticky=sticky,
            health=bool(app.health_path), cert_resolver=ACME_RESOLVER if spec.email else None,
            maintenance=maintenance, mirror=mirror))
        if wait:
            in_step = writer.in_maintenance if maintenance else writer.out_of_maintenance
            writer.wait_for(lambda: writer.weights_applied(app.name, weights) and
                            in_step(app.name) and
                            writer.mirror_applied(app.name, mirror), "the new routes")

    def wait_service(self, app: str, role: str) -> None:
        writer = self.p.traefik()
        name = names.traefik_ref(app, role)
        writer.wait_for(lambda: writer.has_service(name), f"service {name}", timeout=60, interval=0.25)

    def wait_answering(self, app: App, role: str, timeout: float = 90) -> None:
        """Until the version answers its health path (else /) below 500 three times in a row
        through Traefik: tasks up, Traefik's health checks passed, and (for an app whose health
        check asks its database) the database reached through its proxy."""
        writer, path = self.p.traefik(), app.health_path or "/"
        good = 0

        def answering() -> bool:
            nonlocal good
            code = writer.answer(app.name, role, path)
            good = good + 1 if code is not None and code < 500 else 0
            return good >= 3

        writer.wait_for(answering, f"{app.name} answering {path} below 500", timeout=timeout,
                        interval=0.5)

    def remove(self, app: str) -> None:
        """The app's routes gone (a Traefik that does not answer has none to serve anyway)."""
        try:
            self.p.traefik().remove(names.traefik_file(app))
        except CommandFailed:
            pass
