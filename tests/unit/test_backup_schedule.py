from control_plane.services.backup_schedule import DAY, Policy, due

NOW = 1_800_000_000.0


def b(kind, age, error=False):
    return {"type": kind, "stop_epoch": NOW - age, "error": error}


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
