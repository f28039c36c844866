from control_plane import swarm_state as ss


def test_docker_times_parse_with_nanoseconds():
    assert ss.parse_time("2026-11-27T19:46:38.500000000Z") == ss.parse_time("2026-11-27T19:46:38Z") + 0.5
    assert ss.parse_time("0001-01-01T00:00:00Z") is None


def test_a_leftover_rollback_from_an_older_update_is_ignored():
    svc = {"UpdateStatus": {"State": "rollback_completed", "StartedAt": "2026-11-27T10:00:00Z",
                            "Message": "rollback completed"}}
    t = ss.parse_time("2026-11-27T10:00:00Z")
    assert ss.update_state(svc, since=t + 3600) == ("", "")
    assert ss.update_state(svc, since=t - 1) == ("rollback_completed", "rollback completed")
    assert ss.update_state({}, since=0) == ("", "")


def test_task_rows_are_structured():
    rows = ss.task_rows([{"ID": "t1", "Slot": 2, "DesiredState": "running", "NodeID": "n1", "ServiceID": "s1",
                          "Status": {"State": "starting", "Err": "", "Timestamp": "2026-11-27T10:00:00Z",
                                     "ContainerStatus": {"ExitCode": 0}}}], {"n1": "c-node-1"})
    assert [r.model_dump() for r in rows] == [
        {"id": "t1", "slot": 2, "state": "starting", "desired": "running", "error": "",
         "node_id": "n1", "node": "c-node-1", "since": ss.parse_time("2026-11-27T10:00:00Z"),
         "exit_code": 0, "service_id": "s1"}]
