"""Static lint of release SQL (`--release-sql FILE`), modelled on squawk (sbdchd/squawk).

The release SQL runs in ONE transaction, as the app's role, while production still serves
traffic from the same database. A statement is a problem when it breaks the version still
running (or throws data away), when it holds a lock that stops live reads or writes, or when
it cannot run inside a transaction at all. Each rule has a squawk-like name, a one-line reason
and the safe alternative, so that a refusal teaches the expand/contract path: add what the new
version needs now, remove what the old one needed in the contract step
(`--post-promote-command`).

Severities:
- `destructive`: loses data or breaks the running version. Refused unless --allow-destructive.
- `locking`: blocks live reads or writes on an existing table while it scans or rewrites it.
  Also refused unless --allow-destructive.
- `error`: cannot run inside the release transaction (or would end it early). Always refused:
  --allow-destructive cannot make it work.
- `warning`: cannot be checked (procedural code). Reported, never refused.

Statements on a table created earlier in the same file are not flagged by the destructive and
locking rules: nobody reads that table yet, so its locks hold up no one.

The module is pure: it parses with pglast (PostgreSQL's own parser) and touches nothing else.
"""
from __future__ import annotations

import re
from typing import Literal

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError
from pglast.visitors import Visitor
from pydantic import BaseModel, ConfigDict, Field

from .errors import InvalidInput

Severity = Literal["destructive", "locking", "error", "warning"]

# rule -> (severity, reason, safe alternative). One table so every rule reads the same way.
RULES: dict[str, tuple[Severity, str, str]] = {
    "ban-drop-database": (
        "error",
        "DROP DATABASE destroys every table, and it cannot run inside the release transaction anyway.",
        "never drop a database in a release; `sentinel delete app` removes an app and its data."),
    "ban-drop-schema": (
        "destructive",
        "drops every table in the schema, with its rows, under the running version.",
        "move the app off the schema first, then drop it in the contract step "
        "(--post-promote-command) once no running version uses it."),
    "ban-drop-table": (
        "destructive",
        "the running version may still read the table, and its rows are gone for good.",
        "stop using the table in the new version, then drop it in the contract step "
        "(--post-promote-command) once no running version reads it."),
    "ban-truncate-table": (
        "destructive",
        "deletes every row the running version serves, under an ACCESS EXCLUSIVE lock.",
        "delete only the rows you mean to, in batches, or truncate in the contract step "
        "(--post-promote-command) once no running version reads the table."),
    "ban-drop-column": (
        "destructive",
        "the running version still reads the column, and its data is gone for good.",
        "stop reading the column in the new version, then drop it in the contract step "
        "(--post-promote-command) once no running version reads it."),
    "renaming-column": (
        "destructive",
        "the running version still uses the old name, so its queries fail as soon as this commits.",
        "add the new column, write both and backfill, move reads to it, then drop the old column "
        "in the contract step (--post-promote-command)."),
    "renaming-table": (
        "destructive",
        "the running version still uses the old name, so its queries fail as soon as this commits.",
        "create the new table (or a view with the new name), move the app to it, then drop the old "
        "one in the contract step (--post-promote-command)."),
    "renaming-enum-value": (
        "destructive",
        "the running version still writes the old label, so its writes fail as soon as this commits.",
        "add the new value (ALTER TYPE ... ADD VALUE), move rows and code to it, and stop using the "
        "old one in a later release."),
    "adding-required-field": (
        "destructive",
        "a NOT NULL column without a default fails on a table that has rows, and the running "
        "version's INSERTs, which do not name the column, fail too.",
        "add it nullable or with a constant DEFAULT (instant on PostgreSQL 11+); set NOT NULL in the "
        "contract step (--post-promote-command) once every row has a value."),
    "adding-field-with-default": (
        "locking",
        "a volatile default (or serial, identity, stored generated column) fills every existing row, "
        "rewriting the table under an ACCESS EXCLUSIVE lock that blocks reads and writes.",
        "add the column without it (or with a constant default), then backfill old rows in batches "
        "from --release-command."),
    "changing-column-type": (
        "locking",
        "most type changes rewrite the table and its indexes under an ACCESS EXCLUSIVE lock, and the "
        "running version may not handle the new type.",
        "add a column of the new type, write both and backfill, move reads to it, then drop the old "
        "column in the contract step (--post-promote-command)."),
    "adding-not-nullable-field": (
        "locking",
        "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, and the running version's "
        "writes of NULL start to fail.",
        "add CHECK (col IS NOT NULL) NOT VALID and VALIDATE CONSTRAINT it; then SET NOT NULL in the "
        "contract step (--post-promote-command) uses that check and skips the scan (PostgreSQL 12+)."),
    "require-concurrent-index-creation": (
        "locking",
        "CREATE INDEX without CONCURRENTLY blocks every write to the table until the index is built.",
        "build it with CREATE INDEX CONCURRENTLY from --release-command (it cannot run inside the "
        "release SQL's transaction)."),
    "require-concurrent-index-deletion": (
        "locking",
        "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table, blocking reads "
        "and writes while it waits for running queries.",
        "drop it with DROP INDEX CONCURRENTLY from --post-promote-command, outside a transaction."),
    "adding-foreign-key-constraint": (
        "locking",
        "adding a foreign key checks every existing row while holding a SHARE ROW EXCLUSIVE lock on "
        "both tables, which blocks writes to them.",
        "add the column first, then the constraint with ADD CONSTRAINT ... NOT VALID (new rows are "
        "checked at once), and VALIDATE CONSTRAINT it in a later step; that does not block writes."),
    "constraint-missing-not-valid": (
        "locking",
        "adding a CHECK constraint scans every row while holding an ACCESS EXCLUSIVE lock, which "
        "blocks reads and writes.",
        "add it with ADD CONSTRAINT ... NOT VALID (new rows are checked at once), then VALIDATE "
        "CONSTRAINT it in a later step; that does not block reads or writes."),
    "disallowed-unique-constraint": (
        "locking",
        "adding a UNIQUE or PRIMARY KEY constraint builds its index under an ACCESS EXCLUSIVE lock, "
        "which blocks reads and writes.",
        "build the index with CREATE UNIQUE INDEX CONCURRENTLY from --release-command, then "
        "ADD CONSTRAINT ... UNIQUE USING INDEX (or PRIMARY KEY USING INDEX), which is instant."),
    "ban-alter-domain-with-add-constraint": (
        "locking",
        "a new domain constraint (or NOT NULL) is checked against every column of that domain, "
        "holding locks on their tables while it scans them.",
        "add a CHECK constraint with NOT VALID, then ALTER DOMAIN ... VALIDATE CONSTRAINT in a later "
        "step."),
    "ban-concurrent-index-creation-in-transaction": (
        "error",
        "CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and the release SQL is "
        "applied in one transaction.",
        "run it with --release-command (e.g. psql -c 'CREATE INDEX CONCURRENTLY ...'), outside a "
        "transaction."),
    "cannot-run-in-transaction": (
        "error",
        "this statement cannot run inside a transaction block, and the release SQL is applied in one "
        "transaction.",
        "run it with --release-command or --post-promote-command instead."),
    "transaction-nesting": (
        "error",
        "the release SQL already runs in one transaction; BEGIN, COMMIT or ROLLBACK here would end it "
        "early and leave half the migration applied.",
        "remove the transaction statements: Sentinel wraps the whole file in one transaction "
        "(SAVEPOINT is fine)."),
    "procedural-code-not-linted": (
        "warning",
        "the statements inside a DO block, procedure or function are not checked by this lint.",
        "check them by hand, or write the migration as plain SQL statements."),
}

# Refused unless the user passes --allow-destructive; `error` is refused even then.
_ALLOWABLE: frozenset[Severity] = frozenset({"destructive", "locking"})

# Defaults that PostgreSQL must compute row by row: adding a column with one rewrites the
# table. Constant and STABLE defaults (now(), current_timestamp) are stored once (PG11+).
_VOLATILE_FUNCTIONS = frozenset({
    "random", "gen_random_uuid", "uuidv4", "uuidv7", "uuid_generate_v1", "uuid_generate_v1mc",
    "uuid_generate_v4", "clock_timestamp", "timeofday", "nextval", "txid_current",
})
_SERIAL_TYPES = frozenset({"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"})

_T = enums.AlterTableType
_C = enums.ConstrType
_O = enums.ObjectType
_TX = enums.TransactionStmtKind
# Transaction statements that would end (or try to start) the release transaction.
_TX_ENDING = frozenset({_TX.TRANS_STMT_BEGIN, _TX.TRANS_STMT_START, _TX.TRANS_STMT_COMMIT,
                        _TX.TRANS_STMT_ROLLBACK, _TX.TRANS_STMT_PREPARE,
                        _TX.TRANS_STMT_COMMIT_PREPARED, _TX.TRANS_STMT_ROLLBACK_PREPARED})

# Whitespace and comments that may precede a statement's first token.
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.S)
_EXCERPT_LEN = 80


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    severity: Severity
    line: int = Field(ge=1, description="1-based line of the statement's first token")
    excerpt: str
    reason: str
    safe_alternative: str


class LintReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    filename: str = "migration.sql"
    findings: list[Finding] = []

    def refused(self, allow_destructive: bool) -> list[Finding]:
        """The findings that stop a release phase."""
        return [f for f in self.findings
                if f.severity == "error" or (f.severity in _ALLOWABLE and not allow_destructive)]

    def message(self) -> str:
        """Each finding as: where and which rule, why, and what to do instead."""
        if not self.findings:
            return f"{self.filename}: no destructive or locking statements found."
        lines: list[str] = []
        for f in self.findings:
            lines.append(f"{self.filename} line {f.line}: {f.rule} ({f.severity}): {f.excerpt}")
            lines.append(f"  why: {f.reason}")
            lines.append(f"  instead: {f.safe_alternative}")
        return "\n".join(lines)


def lint(sql: str, filename: str = "migration.sql") -> LintReport:
    """Parse `sql` with PostgreSQL's parser and report the statements a live release should not run.

    Raises InvalidInput with the line when the file does not parse.
    """
    try:
        stmts = parse_sql(sql)
    except ParseError as e:
        message, index = e.args[0], e.args[1] if len(e.args) > 1 else None
        # No index means "at end of input": point at the last line with text.
        line = _line_of(sql, index) if index is not None else (sql.rstrip().count("\n") + 1)
        # The token PostgreSQL quotes may span lines (an unterminated string): keep one line.
        raise InvalidInput(f"{filename} line {line}: {' '.join(message.split())}.") from None
    linter = _Linter()
    findings: list[Finding] = []
    for raw in stmts:
        start = _LEADING_NOISE.match(sql, raw.stmt_location).end()
        end = raw.stmt_location + raw.stmt_len if raw.stmt_len else len(sql)
        line, excerpt = _line_of(sql, start), _excerpt(sql[start:end])
        for rule in linter.check(raw.stmt):
            severity, reason, instead = RULES[rule]
            findings.append(Finding(rule=rule, severity=severity, line=line, excerpt=excerpt,
                                    reason=reason, safe_alternative=instead))
    return LintReport(filename=filename, findings=findings)


def _line_of(sql: str, index: int) -> int:
    return sql.count("\n", 0, index) + 1


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT_LEN else flat[:_EXCERPT_LEN - 1] + "…"


def _table_key(schema: str | None, name: str) -> str:
    # Unqualified names and public.x are the same table for the app's role (default search_path).
    return name if schema in (None, "public") else f"{schema}.{name}"


def _rv_key(rv: ast.RangeVar) -> str:
    return _table_key(rv.schemaname, rv.relname)


def _names_key(names: tuple[ast.String, ...]) -> str:
    parts = [n.sval for n in names]
    return _table_key(parts[-2] if len(parts) > 1 else None, parts[-1])


class _VolatileCalls(Visitor):
    def __init__(self) -> None:
        self.found = False

    def visit_FuncCall(self, ancestors, node: ast.FuncCall) -> None:
        if node.funcname[-1].sval in _VOLATILE_FUNCTIONS:
            self.found = True


def _is_volatile(expr: ast.Node | None) -> bool:
    if expr is None:
        return False
    v = _VolatileCalls()
    v(expr)
    return v.found


class _Linter:
    """Walks the statements in order, remembering what this file created."""

    def __init__(self) -> None:
        self.new_tables: set[str] = set()
        self.new_indexes: set[str] = set()

    def check(self, stmt: ast.Node) -> list[str]:
        handler = getattr(self, f"_{type(stmt).__name__}", None)
        return handler(stmt) if handler else []

    # --- things that create (so later statements on them are harmless) ---

    # IF NOT EXISTS may meet a table that already holds data: that one is not new.
    def _CreateStmt(self, s: ast.CreateStmt) -> list[str]:
        if not s.if_not_exists:
            self.new_tables.add(_rv_key(s.relation))
        return []

    def _CreateTableAsStmt(self, s: ast.CreateTableAsStmt) -> list[str]:
        if not s.if_not_exists:
            self.new_tables.add(_rv_key(s.into.rel))
        return []

    def _IndexStmt(self, s: ast.IndexStmt) -> list[str]:
        if s.idxname and not s.if_not_exists:
            schema = s.relation.schemaname
            self.new_indexes.add(_table_key(schema, s.idxname))
        if s.concurrent:
            return ["ban-concurrent-index-creation-in-transaction"]
        if _rv_key(s.relation) in self.new_tables:
            return []
        return ["require-concurrent-index-creation"]

    # --- drops, renames, truncation ---

    def _DropStmt(self, s: ast.DropStmt) -> list[str]:
        kind = s.removeType
        if kind == _O.OBJECT_SCHEMA:
            return ["ban-drop-schema"]
        if kind == _O.OBJECT_TABLE:
            keys = [_names_key(o) for o in s.objects]
            return [] if all(k in self.new_tables for k in keys) else ["ban-drop-table"]
        if kind == _O.OBJECT_INDEX:
            if s.concurrent:
                return ["cannot-run-in-transaction"]
            keys = [_names_key(o) for o in s.objects]
            return [] if all(k in self.new_indexes for k in keys) else ["require-concurrent-index-deletion"]
        return []

    def _DropdbStmt(self, s: ast.DropdbStmt) -> list[str]:
        return ["ban-drop-database"]

    def _TruncateStmt(self, s: ast.TruncateStmt) -> list[str]:
        return [] if all(_rv_key(r) in self.new_tables for r in s.relations) else ["ban-truncate-table"]

    def _RenameStmt(self, s: ast.RenameStmt) -> list[str]:
        if s.renameType == _O.OBJECT_TABLE:
            key = _rv_key(s.relation)
            if key in self.new_tables:
                self.new_tables.add(_table_key(s.relation.schemaname, s.newname))
                return []
            return ["renaming-table"]
        if s.renameType == _O.OBJECT_COLUMN and s.relationType == _O.OBJECT_TABLE:
            return [] if _rv_key(s.relation) in self.new_tables else ["renaming-column"]
        return []

    # --- ALTER TABLE: one finding per risky sub-command ---

    def _AlterTableStmt(self, s: ast.AlterTableStmt) -> list[str]:
        if s.objtype != _O.OBJECT_TABLE or _rv_key(s.relation) in self.new_tables:
            return []
        found: list[str] = []
        for cmd in s.cmds or ():
            found += self._alter_table_cmd(cmd)
        return found

    def _alter_table_cmd(self, cmd: ast.AlterTableCmd) -> list[str]:
        t = cmd.subtype
        if t == _T.AT_DropColumn:
            return ["ban-drop-column"]
        if t == _T.AT_AlterColumnType:
            return ["changing-column-type"]
        if t == _T.AT_SetNotNull:
            return ["adding-not-nullable-field"]
        if t == _T.AT_AddColumn:
            return self._add_column(cmd.def_)
        if t == _T.AT_AddConstraint:
            return self._add_constraint(cmd.def_)
        return []

    def _add_column(self, col: ast.ColumnDef) -> list[str]:
        constraints = list(col.constraints or ())
        kinds = {c.contype for c in constraints}
        default = next((c.raw_expr for c in constraints if c.contype == _C.CONSTR_DEFAULT), None)
        if isinstance(default, ast.A_Const) and default.isnull:
            default = None  # DEFAULT NULL is no default at all
        type_name = col.typeName.names[-1].sval if col.typeName else ""
        found: list[str] = []
        fills_rows = (_is_volatile(default) or type_name in _SERIAL_TYPES
                      or bool(kinds & {_C.CONSTR_IDENTITY, _C.CONSTR_GENERATED}))
        if fills_rows:
            found.append("adding-field-with-default")
        elif (kinds & {_C.CONSTR_NOTNULL, _C.CONSTR_PRIMARY}) and default is None:
            found.append("adding-required-field")
        if kinds & {_C.CONSTR_UNIQUE, _C.CONSTR_PRIMARY}:
            found.append("disallowed-unique-constraint")
        if _C.CONSTR_FOREIGN in kinds:
            found.append("adding-foreign-key-constraint")
        if _C.CONSTR_CHECK in kinds:
            found.append("constraint-missing-not-valid")  # inline checks cannot be NOT VALID
        return found

    def _add_constraint(self, c: ast.Constraint) -> list[str]:
        if c.contype == _C.CONSTR_FOREIGN and not c.skip_validation:
            return ["adding-foreign-key-constraint"]
        if c.contype == _C.CONSTR_CHECK and not c.skip_validation:
            return ["constraint-missing-not-valid"]
        if c.contype in (_C.CONSTR_UNIQUE, _C.CONSTR_PRIMARY) and not c.indexname:
            return ["disallowed-unique-constraint"]
        if c.contype == _C.CONSTR_NOTNULL and not c.skip_validation:
            return ["adding-not-nullable-field"]  # PG18's ADD CONSTRAINT ... NOT NULL col
        return []

    # --- types and domains ---

    def _AlterEnumStmt(self, s: ast.AlterEnumStmt) -> list[str]:
        return ["renaming-enum-value"] if s.oldVal else []

    def _AlterDomainStmt(self, s: ast.AlterDomainStmt) -> list[str]:
        if s.subtype == "O":  # SET NOT NULL
            return ["ban-alter-domain-with-add-constraint"]
        if s.subtype == "C" and not s.def_.skip_validation:
            return ["ban-alter-domain-with-add-constraint"]
        return []

    # --- what cannot run in (or would end) the release transaction ---

    def _TransactionStmt(self, s: ast.TransactionStmt) -> list[str]:
        return ["transaction-nesting"] if s.kind in _TX_ENDING else []

    def _ReindexStmt(self, s: ast.ReindexStmt) -> list[str]:
        concurrently = any(p.defname == "concurrently" for p in s.params or ())
        return ["cannot-run-in-transaction"] if concurrently else []

    def _VacuumStmt(self, s: ast.VacuumStmt) -> list[str]:
        return ["cannot-run-in-transaction"] if s.is_vacuumcmd else []  # ANALYZE alone is fine

    def _CreatedbStmt(self, s: ast.CreatedbStmt) -> list[str]:
        return ["cannot-run-in-transaction"]

    def _AlterSystemStmt(self, s: ast.AlterSystemStmt) -> list[str]:
        return ["cannot-run-in-transaction"]

    # --- code the parser sees only as an opaque string ---

    def _DoStmt(self, s: ast.DoStmt) -> list[str]:
        return ["procedural-code-not-linted"]

    def _CallStmt(self, s: ast.CallStmt) -> list[str]:
        return ["procedural-code-not-linted"]

    def _CreateFunctionStmt(self, s: ast.CreateFunctionStmt) -> list[str]:
        return ["procedural-code-not-linted"]
