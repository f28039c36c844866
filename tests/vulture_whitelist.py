"""Names vulture reports as unused (tests/unit/test_unused.py) that are used, each with why.
Vulture reads this file beside the code and never runs it: a name mentioned here counts as used."""
# ruff: noqa
# flake8: noqa
_ = None

# Pydantic fields: read by validation and serialisation, never by name in our code.
_.control_errors, _.experiment_errors  # analysis/config.py: fields of the judge's result record
_.schedule, _.webhook_url_env  # manifest.py: fields of the manifest's models
_.pre_rollout, _.confirm_traffic_increase, _.confirm_promotion, _.post_rollout  # manifest hooks

# compose_templates/traefik_app.yml.j2 names these objects through names.TraefikObjects.
_.read_router, _.retry

# Named in cli/main.py's COMMANDS table (imported by name when it runs).
_.open_console

# Attributes set for the library that reads them.
_.whitespace_split  # shlex.shlex in build/procfile.py
_.gid, _.gname, _.mtime, _.uid, _.uname  # tarfile.TarInfo: owner and time normalised (build, remote)
_.row_factory  # sqlite3.Connection in store.py
_.optionxform  # configparser in templates.py (keep option case)
_.rich_markup_mode  # typer.Typer in cli/main.py: plain help for every group

# migration_lint.py: pglast's Visitor calls visit_<Node>(ancestors, node), and the linter
# dispatches each statement to the method named _<Statement>.
_.visit_FuncCall, _.ancestors
_._CreateStmt, _._CreateTableAsStmt, _._IndexStmt, _._DropStmt, _._DropdbStmt, _._TruncateStmt
_._RenameStmt, _._AlterTableStmt, _._AlterEnumStmt, _._AlterDomainStmt, _._TransactionStmt
_._ReindexStmt, _._VacuumStmt, _._CreatedbStmt, _._AlterSystemStmt, _._DoStmt, _._CallStmt
_._CreateFunctionStmt

# Building from source (issue 24): the pure part is in and unit-tested; the build service that
# calls these is the next step.
_.has_web, _.APP_UID, _.from_files, _.pack, _.unpack

# Record fields read only through model_dump() (the API's JSON: cluster inspect, tasks).
_.availability, _.cpus, _.memory_bytes, _.node_id, _.repo_bytes
_.restored_from  # a copy's history in its stored record (`state.db`), for whoever reads it there
_.initial_cluster, _.initial_state  # EtcdMember: read by compose_templates/dcs.yml.j2
_.edge_addresses  # ClusterOutputs: part of Terraform's output contract (issue 26's edge on every manager)
_.builder  # records.Build: shown by `sentinel builds` through the API
