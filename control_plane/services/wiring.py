"""Every service of one control plane, built once, bottom-up: each gets the lower ones it uses
and never builds another. The layers (docs/architecture.md), from the bottom:

    db_objects -> stack, routes -> database -> copies -> teardown -> backup -> release -> cluster
    -> apps, canary -> progressive, manifest, db_ops, report, backup_schedule; builds
    -> pushes (a build, then a manifest applied); previews (a copy, then a deploy);
    healing (nodes the swarm lists down); state_backup (the control plane's own state, sealed)
"""
from __future__ import annotations

from dataclasses import dataclass

from ..jobs import Jobs
from ..paths import sentinel_home
from ..platform import Platform
from .analysis import Analyzer
from .apps import AppService
from .backup import BackupService
from .backup_schedule import BackupScheduler
from .canary import CanaryService
from .builds import BuildService
from .previews import PreviewService
from .pushes import PushService
from .cluster import ClusterService
from .copies import CopyService
from .database import DatabaseService
from .healing import NodeHealer
from .db_objects import DbObjects
from .db_ops import DbOperations
from .manifest import ManifestService
from .progressive import ProgressiveDriver
from .release import ReleaseService
from .report import ReportService
from .routes import Routes
from .state_backup import StateBackup
from .stack import Stack
from .teardown import Teardown


@dataclass(frozen=True)
class Services:
    platform: Platform
    jobs: Jobs
    stack: Stack
    routes: Routes
    db: DatabaseService
    copies: CopyService
    backups: BackupService
    release: ReleaseService
    cluster: ClusterService
    apps: AppService
    canary: CanaryService
    analyzer: Analyzer
    driver: ProgressiveDriver
    db_ops: DbOperations
    manifests: ManifestService
    reports: ReportService
    scheduler: BackupScheduler
    builds: BuildService
    pushes: PushService
    previews: PreviewService
    healer: NodeHealer
    state_backup: StateBackup


def build(platform: Platform, jobs: Jobs) -> Services:
    objects = DbObjects(platform)
    stack = Stack(platform, objects)
    routes = Routes(platform)
    db = DatabaseService(platform, objects, stack)
    copies = CopyService(platform, db)
    teardown = Teardown(stack, routes, db, copies)
    backups = BackupService(platform, db, copies, stack, routes, teardown)
    release = ReleaseService(platform, db, backups, stack, teardown)
    cluster = ClusterService(platform, db)
    apps = AppService(platform, db=db, backups=backups, release=release, cluster=cluster,
                      stack=stack, routes=routes, teardown=teardown)
    canary = CanaryService(platform, jobs, stack=stack, routes=routes, release=release,
                           backups=backups)
    analyzer = Analyzer(platform)
    db_ops = DbOperations(platform, jobs, db, backups)
    manifests = ManifestService(platform, jobs, canary, apps, db_ops)
    builds = BuildService(platform, jobs)
    previews = PreviewService(platform, jobs, apps, backups, db)
    return Services(platform=platform, jobs=jobs, stack=stack, routes=routes, db=db,
                    copies=copies, backups=backups, release=release, cluster=cluster, apps=apps, canary=canary,
                    analyzer=analyzer, driver=ProgressiveDriver(canary, jobs, analyzer),
                    db_ops=db_ops, manifests=manifests,
                    reports=ReportService(platform),
                    scheduler=BackupScheduler(platform, jobs, backups),
                    builds=builds,
                    pushes=PushService(platform, jobs, builds, manifests, previews,
                                       sentinel_home() / "git"),
                    previews=previews, healer=NodeHealer(platform, jobs),
                    state_backup=StateBackup(platform))
