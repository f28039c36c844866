from control_plane.records import Backup
from control_plane.services.backup_schedule import DAY, Policy, due

NOW = 1_800_000_000.0


def b(kind, age, error=False):
    return Backup(type=kind, stop_epoch=NOW - age, error=error)


def test_the_first_backup_is_a_full_one_right_away():
    assert due(Policy(), [], None, NOW) == "full"
    assert due(Policy(), [b("full", 10, error=True)], None, NOW) == "full"


def test_weekly_full_daily_differential_weekly_drill():
    p = Policy()
    assert due(p, [b("full", 8 * DAY)], NOW - DAY, NOW) == "full"
    assert due(p, [b("full", 2 * DAY)], NOW - DAY, NOW) == "diff"
    assert due(p, [b("full", 2 * DAY), b("diff", 3600)], NOW - 8 * DAY, NOW) == "drill"
    assert due(p, [b("full", 2 * DAY), b("diff", 3600)], NOW - DAY, NOW) is None
    assert due(p, [b("full", 3600)], None, NOW) == "drill"


def test_a_daily_schedule_makes_every_backup_a_full_one():
    from control_plane.records import App
    from control_plane.services.backup_schedule import policy_for

    base = Policy()
    assert policy_for(App(name="todos", backups=None), base) == base
    assert policy_for(App(name="todos", backups={"schedule": "weekly", "keep": 3}), base) == base
    daily = policy_for(App(name="todos", backups={"schedule": "daily", "keep": 14}), base)
    assert daily.full_every == DAY and daily.drill_every == base.drill_every
    full = Backup(type="full", stop_epoch=1.0)
    assert due(daily, [full], 1.0, DAY + 2) == "full"
    assert due(base, [full], 1.0, DAY + 2) == "diff"


def test_the_quiet_period_never_delays_a_first_backup():
    from control_plane.services.backup_schedule import due_now

    now = NOW
    assert due_now(Policy(), [], None, now, quiet=True) == "full"
    assert due_now(Policy(), [b("full", DAY, error=True)], None, now, quiet=True) == "full"
    old = [b("full", 8 * DAY)]
    assert due_now(Policy(), old, None, now, quiet=True) is None  # scheduled work waits
    assert due_now(Policy(), old, None, now, quiet=False) == "full"


def test_a_failing_schedule_shows_until_one_succeeds(tmp_path):
    from control_plane.errors import CommandFailed
    from control_plane.records import App
    from control_plane.services.backup import scheduled_failure
    from control_plane.services.backup_schedule import BackupScheduler
    from control_plane.store import Store

    store = Store(tmp_path / "state.db")
    store.put_app(App(name="todos", image="todo:1"))

    class Platform:
        pass

    Platform.store = store

    class Op:
        id = "op1"

    def failing(op):
        raise CommandFailed("backup command failed: the repository is full")

    sched = BackupScheduler(Platform(), jobs=None, backups=None)
    try:
        sched._said("todos", "full backup", failing)(Op())
        raise AssertionError("the failure must reach the operation")
    except CommandFailed:
        pass
    [e] = store.events(target="db:todos")
    assert e["message"] == ("the scheduled full backup failed: backup command failed: the "
                            "repository is full; the schedule tries again")

    def op(i, kind, status, actor="sentinel"):
        return {"id": f"o{i}", "kind": kind, "status": status, "actor": actor, "error":
                "boom" if status == "failed" else None, "started_at": i, "finished_at": i + 1.0}

    newest_first = [op(3, "db-backup", "failed"), op(2, "db-backup", "succeeded")]
    assert scheduled_failure(newest_first) == {"kind": "db-backup", "at": 4.0, "error": "boom",
                                               "operation": "o3"}
    # A backup that succeeded since clears it (a drill that did says nothing of backups); a
    # person's failed backup is not the schedule's.
    assert scheduled_failure([op(4, "db-backup", "succeeded"), *newest_first]) is None
    assert scheduled_failure([op(4, "db-verify", "succeeded"), *newest_first])["operation"] == "o3"
    assert scheduled_failure([op(5, "db-backup", "failed", actor="cli")]) is None
    assert scheduled_failure([op(6, "db-backup", "running"), op(5, "canary", "failed")]) is None
