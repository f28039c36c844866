import datetime as dt
import json

import pytest

from control_plane import names, pgbackrest as pb
from control_plane.records import Backup, RestoreTarget

INFO = [{"name": "todos", "status": {"code": 0, "message": "ok"},
         "archive": [{"id": "15-1", "min": "000000010000000000000002", "max": "000000020000000000000007"}],
         "backup": [
             {"label": "20261127-182950F", "type": "full", "timestamp": {"start": 1795804190, "stop": 1795804194},
              "info": {"size": 30910951, "repository": {"size": 6061051}}, "lsn": {"stop": "0/4000100"}},
             {"label": "20261127-182950F_20261128-010000D", "type": "diff",
              "timestamp": {"start": 1795827600, "stop": 1795827603},
              "info": {"size": 31000000, "repository": {"size": 100000}}, "lsn": {"stop": "0/9000100"}}]}]


def test_info_gives_backups_and_archive():
    i = pb.parse_info(json.dumps(INFO), "todos")
    assert i.status == "ok"
    assert [b.type for b in i.backups] == ["full", "diff"]
    assert i.backups[0].stop == "2026-11-27T18:29:54Z" and i.backups[0].size_bytes == 30910951
    assert i.archive == {"min": "000000010000000000000002", "max": "000000020000000000000007"}


def test_a_new_stanza_without_backups_is_fine_and_a_missing_one_is_missing():
    new = [{"name": "todos", "status": {"code": 2, "message": "no valid backups"}, "backup": [], "archive": []}]
    assert pb.parse_info(json.dumps(new), "todos").status == "ok"
    assert pb.parse_info("[]", "todos").status == "missing"


def test_window_runs_from_the_oldest_good_backup_to_the_last_archived_change():
    backups = pb.parse_info(json.dumps(INFO), "todos").backups
    assert pb.window_from(backups, "2026-11-28T09:00:00Z").public() == {"from": "2026-11-27T18:29:54Z",
                                                                       "to": "2026-11-28T09:00:00Z"}
    assert pb.window_from([], None) is None


def test_restore_argv_for_each_target():
    t = pb.time_target(dt.datetime(2026, 11, 27, 16, 40, tzinfo=dt.timezone.utc))
    assert pb.restore_argv("todos", t, delta=True) == [
        "pgbackrest", "--stanza=todos", "--type=time", "--target=2026-11-27 16:40:00.000000+00",
        "--target-action=promote", "--delta", "restore"]
    named = RestoreTarget("name", "pre-restore-x", timeline=3)
    assert "--target-timeline=3" in pb.restore_argv("todos", named)
    lsn = RestoreTarget("lsn", "0/9000060", exclusive=True)
    argv = pb.restore_argv("todos", lsn, archive_off=True)
    assert "--target-exclusive" in argv and "--archive-mode=off" in argv
    assert pb.restore_argv("todos", RestoreTarget("latest")) == ["pgbackrest", "--stanza=todos", "restore"]


def test_times_from_users():
    assert pb.parse_time("2026-11-27T16:40:00Z").tzinfo is not None
    assert pb.parse_time("2026-11-27T16:40:00").utcoffset() == dt.timedelta(0)  # no zone: UTC
    with pytest.raises(ValueError):
        pb.parse_time("yesterday")


def test_backup_argv():
    assert pb.backup_argv("todos", "diff") == ["pgbackrest", "--stanza=todos", "--type=diff", "backup"]
    with pytest.raises(ValueError):
        pb.backup_argv("todos", "weekly")
    # The app's retention rides on the command line: no configuration (and no member) changes.
    assert pb.backup_argv("todos", "full", 14) == ["pgbackrest", "--stanza=todos",
                                                   "--repo1-retention-full=14", "--type=full", "backup"]


def test_a_restore_point_starts_from_a_backup_on_its_own_timeline_before_it():
    backups = [Backup(label="F1", lsn_stop="0/4000100", timeline=1),
               Backup(label="F2", lsn_stop="0/9000000", timeline=3),
               Backup(label="F3", lsn_stop="0/10000000", timeline=4)]  # after a restore
    assert pb.backup_for_point(backups, "0/A000000", 3) == "F2"
    assert pb.backup_for_point(backups, "0/5000000", 3) == "F1"
    assert pb.backup_for_point(backups, "0/1000000", 3) is None
    assert "--set=F2" in pb.restore_argv("todos", RestoreTarget("name", "p", timeline=3, set="F2"))
    assert pb.lsn("1/0") > pb.lsn("0/FFFFFFFF")


def test_a_failure_is_reported_by_its_error_line_not_the_log_tail():
    out = ("2026-11-27 22:08:28.900 P00 INFO: stanza-create command begin 2.47: --pg1-host=pg-0\n"
           "2026-11-27 22:08:28.920 P00 ERROR: [050]: unable to acquire lock on file "
           "'/tmp/pgbackrest/s-archive.lock': Resource temporarily unavailable\n"
           "HINT: is another pgBackRest process running?\n"
           "2026-11-27 22:08:28.924 P00 INFO: stanza-create command end: aborted with exception [050]\n")
    said = pb.error_lines(out)
    assert said.startswith("2026-11-27 22:08:28.920 P00 ERROR: [050]: unable to acquire lock")
    assert "another pgBackRest process" in said and "command end" not in said
    assert pb.error_lines("a\nb\n") == "a b"


def test_a_backup_without_a_streaming_standby_says_so_to_pgbackrest():
    assert pb.backup_argv("todos", "full", from_standby=False) == [
        "pgbackrest", "--stanza=todos", "--type=full", "--no-backup-standby", "backup"]


def test_pgbackrests_errors_become_one_sentence_with_its_line_as_detail():
    out = ("2026-12-06 10:00:00.000 P00   INFO: restore command begin\n"
           "2026-12-06 10:00:00.100 P00  ERROR: [075]: no backup set found to restore\n")
    msg = pb.explain("the restore of shop failed (exit code 75)", "shop", out)
    assert msg == ("the restore of shop failed (exit code 75): the backup repository holds no backup "
                   "to start from: take one with `sentinel db backup shop` (pgBackRest: [075] no backup "
                   "set found to restore).")
    unknown = pb.explain("the backup of shop failed", "shop", "ERROR: [099]: something odd\n")
    assert unknown == "the backup of shop failed (pgBackRest: [099] something odd)."
    assert pb.explain("x failed", "shop", "") == "x failed."
    assert pb.error_line("ERROR: [082]: WAL segment 0001 was not archived") == ("082", "WAL segment 0001 was not archived")


def test_the_recovery_task_runs_the_whole_restore_command_the_control_plane_builds():
    """images/postgres/sentinel-pg runs everything after "--" as it is: the argv compared here is
    the one that runs."""
    from control_plane.services.backup import recover_argv

    t = pb.time_target(dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.timezone.utc))
    argv = recover_argv("todos", t, keep_old="discarded-x", archive=True)
    assert argv == ["recover", "--archive", "on", "--keep-old", "discarded-x", "--",
                    "pgbackrest", "--stanza=todos", "--type=time",
                    "--target=2026-12-06 10:00:00.000000+00", "--target-action=promote",
                    "--pg1-path=/var/lib/postgresql/data/pgdata", "restore"]
    assert argv[argv.index("--") + 1:] == pb.restore_argv("todos", t, pg_path=names.PGDATA)
    drill = recover_argv("todos", RestoreTarget("latest"), keep_old=None, archive=False, drill_db="todos")
    assert drill[:5] == ["recover", "--archive", "off", "--drill", "todos"]
