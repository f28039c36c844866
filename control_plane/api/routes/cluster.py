"""Routes of `sentinel init`, `sentinel cluster` and `sentinel destroy`."""
from __future__ import annotations

import time
from dataclasses import asdict

from fastapi import APIRouter, Depends

from ... import names, recovery, secrets, topology
from ...errors import InvalidInput
from ...models import ClusterCreate, ClusterScale, RecoveryKey
from ...services.wiring import Services
from ...webhooks import SIGNATURE_HEADER
from ..responses import (ERRORS, ClusterExisting, ClusterInfo, OperationStarted, RecoveryKeySet,
                         SigningKey)


def router(services: Services, auth) -> APIRouter:
    r = APIRouter(prefix="/v1", dependencies=[Depends(auth)], responses=ERRORS)
    platform, jobs, clusters = services.platform, services.jobs, services.cluster
    store, state_backup = platform.store, services.state_backup

    def info() -> dict:
        found = clusters.inspect()
        return {**found, "state_copy": asdict(state_backup.status),
                "single_points": topology.single_points(len(found["nodes"]))}

    @r.post("/cluster", response_model=OperationStarted | ClusterExisting, status_code=202)
    def init(spec: ClusterCreate):
        spec = clusters.validate(spec)
        if platform.state == "ready" and store.get(names.CLUSTER_KEY) == spec.model_dump():
            return {"existing": True, "cluster": info()}
        return {"operation": jobs.start("cluster", "init", lambda op: clusters.init(op, spec))}

    @r.get("/cluster", response_model=ClusterInfo)
    def inspect():
        platform.spec  # raises when there is none
        return info()

    @r.get("/signing-key", response_model=SigningKey)
    def signing_key():
        """The key that signs every hook and JSON notification naming no secret of its own."""
        return {"key": secrets.get(names.SIGNING_KEY), "header": SIGNATURE_HEADER}

    @r.put("/recovery-key", response_model=RecoveryKeySet)
    def recovery_key(body: RecoveryKey):
        """Seal the state's copies to this key from now on; the first is made at once."""
        platform.spec  # raises when there is no platform
        store.put(names.RECOVERY_PUBLIC_KEY, recovery.check_public(body.public_key))
        state_backup.forget_sent()
        state_backup.round(time.time())
        return {"public_key": body.public_key, "state_copy": asdict(state_backup.status)}

    @r.post("/cluster/scale", response_model=OperationStarted, status_code=202)
    def scale(body: ClusterScale):
        clusters.check_scale(body.nodes)  # refuses a scale-down that would lose a copy
        # A cluster change excludes every app operation (and waits for none to be running).
        app_locks = tuple(names.app_target(a.name) for a in store.apps())
        return {"operation": jobs.start("cluster", "scale", lambda op: clusters.scale(op, body.nodes),
                                        also_lock=app_locks)}

    @r.delete("/cluster", response_model=OperationStarted, status_code=202)
    def destroy(delete_data: bool = False):
        with_db = [a.name for a in store.apps() if a.db]
        if with_db and not delete_data:
            raise InvalidInput(f"destroying the platform deletes the databases of {', '.join(with_db)} "
                               "and all their backups: add --delete-data to confirm that loss (copy "
                               "what you need first, e.g. with `sentinel db psql`).")
        app_locks = tuple(names.app_target(a.name) for a in store.apps())
        return {"operation": jobs.start("cluster", "destroy", clusters.destroy, also_lock=app_locks)}

    return r
