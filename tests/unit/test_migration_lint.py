"""The release-SQL lint on real SQL: each rule's refused form and its safe form."""
from pathlib import Path

import pytest

from control_plane.errors import InvalidInput
from control_plane.migration_lint import RULES, LintReport, lint

MIGRATIONS = Path(__file__).resolve().parents[2] / "examples" / "todo" / "migrations"


def rules(sql: str) -> list[str]:
    return [f.rule for f in lint(sql).findings]


# (sql, the rules it must raise). Every rule appears at least once (checked below).
FLAGGED = [
    ("DROP DATABASE todos", ["ban-drop-database"]),
    ("DROP SCHEMA reporting CASCADE", ["ban-drop-schema"]),
    ("DROP TABLE todos", ["ban-drop-table"]),
    ("DROP TABLE IF EXISTS public.todos", ["ban-drop-table"]),
    ("TRUNCATE todos", ["ban-truncate-table"]),
    ("ALTER TABLE todos DROP COLUMN created_at", ["ban-drop-column"]),
    ("ALTER TABLE todos RENAME COLUMN title TO name", ["renaming-column"]),
    ("ALTER TABLE todos RENAME TO tasks", ["renaming-table"]),
    ("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'", ["renaming-enum-value"]),
    ("ALTER TABLE todos ALTER COLUMN title TYPE varchar(200)", ["changing-column-type"]),
    ("ALTER TABLE todos ALTER COLUMN id SET DATA TYPE bigint", ["changing-column-type"]),
    ("ALTER TABLE todos ADD COLUMN priority int NOT NULL", ["adding-required-field"]),
    ("ALTER TABLE todos ADD COLUMN priority int NOT NULL DEFAULT NULL", ["adding-required-field"]),
    ("ALTER TABLE todos ADD COLUMN uid uuid DEFAULT gen_random_uuid()", ["adding-field-with-default"]),
    ("ALTER TABLE todos ADD COLUMN r text DEFAULT md5(random()::text)", ["adding-field-with-default"]),
    ("ALTER TABLE todos ADD COLUMN n bigserial", ["adding-field-with-default"]),
    ("ALTER TABLE todos ADD COLUMN n int GENERATED ALWAYS AS IDENTITY", ["adding-field-with-default"]),
    ("ALTER TABLE todos ADD COLUMN t2 text GENERATED ALWAYS AS (upper(title)) STORED",
     ["adding-field-with-default"]),
    ("ALTER TABLE todos ALTER COLUMN title SET NOT NULL", ["adding-not-nullable-field"]),
    ("CREATE INDEX todos_done ON todos (done)", ["require-concurrent-index-creation"]),
    ("CREATE UNIQUE INDEX todos_title ON todos (title)", ["require-concurrent-index-creation"]),
    ("CREATE INDEX CONCURRENTLY todos_done ON todos (done)",
     ["ban-concurrent-index-creation-in-transaction"]),
    ("DROP INDEX todos_done", ["require-concurrent-index-deletion"]),
    ("DROP INDEX CONCURRENTLY todos_done", ["cannot-run-in-transaction"]),
    ("REINDEX INDEX CONCURRENTLY todos_done", ["cannot-run-in-transaction"]),
    ("VACUUM todos", ["cannot-run-in-transaction"]),
    ("ALTER TABLE todos ADD CONSTRAINT todos_owner_fk FOREIGN KEY (owner_id) REFERENCES users (id)",
     ["adding-foreign-key-constraint"]),
    ("ALTER TABLE todos ADD COLUMN owner_id int REFERENCES users (id)",
     ["adding-foreign-key-constraint"]),
    ("ALTER TABLE todos ADD CONSTRAINT title_len CHECK (length(title) < 500)",
     ["constraint-missing-not-valid"]),
    ("ALTER TABLE todos ADD COLUMN p int CHECK (p >= 0)", ["constraint-missing-not-valid"]),
    ("ALTER TABLE todos ADD CONSTRAINT todos_title_key UNIQUE (title)",
     ["disallowed-unique-constraint"]),
    ("ALTER TABLE todos ADD PRIMARY KEY (id)", ["disallowed-unique-constraint"]),
    ("ALTER TABLE todos ADD COLUMN code text UNIQUE", ["disallowed-unique-constraint"]),
    ("ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0)",
     ["ban-alter-domain-with-add-constraint"]),
    ("ALTER DOMAIN positive SET NOT NULL", ["ban-alter-domain-with-add-constraint"]),
    ("BEGIN", ["transaction-nesting"]),
    ("COMMIT", ["transaction-nesting"]),
    ("DO $$ BEGIN UPDATE todos SET done = true; END $$", ["procedural-code-not-linted"]),
    ("CALL archive_old_todos()", ["procedural-code-not-linted"]),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", ["procedural-code-not-linted"]),
    # One finding per risky sub-command of a single ALTER TABLE.
    ("ALTER TABLE todos DROP COLUMN done, ADD COLUMN p int NOT NULL",
     ["ban-drop-column", "adding-required-field"]),
]

SAFE = [
    "ALTER TABLE todos ADD COLUMN priority int",
    # A constant (or STABLE) default is stored once on PostgreSQL 11+: no rewrite.
    "ALTER TABLE todos ADD COLUMN priority int NOT NULL DEFAULT 0",
    "ALTER TABLE todos ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now()",
    "ALTER TABLE todos ADD CONSTRAINT todos_owner_fk FOREIGN KEY (owner_id) REFERENCES users (id) NOT VALID",
    "ALTER TABLE todos VALIDATE CONSTRAINT todos_owner_fk",
    "ALTER TABLE todos ADD CONSTRAINT title_len CHECK (length(title) < 500) NOT VALID",
    "ALTER TABLE todos ADD CONSTRAINT todos_title_key UNIQUE USING INDEX todos_title_idx",
    "ALTER TABLE todos ALTER COLUMN title DROP NOT NULL",
    "ALTER TABLE todos ALTER COLUMN done SET DEFAULT false",
    "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID",
    "ALTER TYPE mood ADD VALUE 'calm'",
    "ALTER INDEX todos_done RENAME TO todos_done_idx",
    "CREATE TABLE tags (id serial PRIMARY KEY, name text NOT NULL UNIQUE)",
    "UPDATE todos SET priority = 1 WHERE done",
    "INSERT INTO todos (title) VALUES ('hello')",
    "ANALYZE todos",
    "SAVEPOINT before_backfill",
    "CREATE VIEW open_todos AS SELECT * FROM todos WHERE NOT done",
    "-- only a comment",
    "",
]


@pytest.mark.parametrize("sql,expected", FLAGGED, ids=[s for s, _ in FLAGGED])
def test_flagged(sql, expected):
    assert rules(sql) == expected


@pytest.mark.parametrize("sql", SAFE)
def test_safe(sql):
    assert rules(sql) == []


def test_every_rule_is_tested():
    assert {r for _, expected in FLAGGED for r in expected} == set(RULES)


@pytest.mark.parametrize("sql", [
    "CREATE TABLE tags (id int, name text);\nCREATE INDEX tags_name ON tags (name);",
    "CREATE TABLE tags (id int);\nALTER TABLE tags ADD COLUMN name text NOT NULL;",
    "CREATE TABLE tags (id int);\nALTER TABLE tags ADD PRIMARY KEY (id);",
    "CREATE TABLE tags (id int, todo_id int);\n"
    "ALTER TABLE tags ADD CONSTRAINT fk FOREIGN KEY (todo_id) REFERENCES todos (id);",
    "CREATE TABLE tags (id int, n int);\nALTER TABLE tags ADD CONSTRAINT c CHECK (n > 0);",
    "CREATE TABLE tags (id int);\nALTER TABLE tags ALTER COLUMN id TYPE bigint, "
    "ALTER COLUMN id SET NOT NULL;",
    "CREATE TABLE public.tags (id int);\nCREATE INDEX t_id ON tags (id);\nDROP INDEX t_id;",
    "CREATE TABLE tags (id int);\nALTER TABLE tags RENAME TO labels;\nCREATE INDEX l ON labels (id);",
    "CREATE TABLE scratch AS SELECT id FROM todos;\nTRUNCATE scratch;\nDROP TABLE scratch;",
])
def test_changes_to_a_table_created_in_the_same_file_pass(sql):
    assert rules(sql) == []


def test_a_same_named_table_in_another_schema_is_not_new():
    assert rules("CREATE TABLE audit.todos (id int);\nCREATE INDEX i ON todos (id);") == [
        "require-concurrent-index-creation"]


def test_create_if_not_exists_may_meet_a_live_table():
    sql = ("CREATE TABLE IF NOT EXISTS todos (id int);\n"
           "CREATE INDEX IF NOT EXISTS i ON todos (id);\n"
           "DROP INDEX i;")
    assert rules(sql) == ["require-concurrent-index-creation", "require-concurrent-index-deletion"]


def test_concurrent_index_is_refused_even_on_a_new_table_and_even_when_allowed():
    report = lint("CREATE TABLE tags (id int);\nCREATE INDEX CONCURRENTLY tags_id ON tags (id);")
    [f] = report.refused(allow_destructive=True)
    assert f.rule == "ban-concurrent-index-creation-in-transaction"
    assert "cannot run inside a transaction block" in f.reason
    assert "--release-command" in f.safe_alternative


def test_refused_depends_on_allow_destructive_and_warnings_never_refuse():
    report = lint("ALTER TABLE todos DROP COLUMN done;\n"
                  "CREATE INDEX i ON todos (title);\n"
                  "DO $$ BEGIN PERFORM 1; END $$;\n"
                  "COMMIT;")
    assert [f.severity for f in report.findings] == ["destructive", "locking", "warning", "error"]
    assert [f.rule for f in report.refused(allow_destructive=False)] == [
        "ban-drop-column", "require-concurrent-index-creation", "transaction-nesting"]
    assert [f.rule for f in report.refused(allow_destructive=True)] == ["transaction-nesting"]


def test_line_numbers_skip_comments_and_blank_lines():
    sql = """-- 0003: tidy up
/* a block comment
   over two lines */
CREATE TABLE tags (id int);

ALTER TABLE todos
    ADD COLUMN note text;   -- safe
-- the next one is not
ALTER TABLE todos
    DROP COLUMN done;
SELECT 'é; not a statement end';   CREATE INDEX i ON todos (title)
"""
    report = lint(sql)
    assert [(f.rule, f.line) for f in report.findings] == [
        ("ban-drop-column", 9), ("require-concurrent-index-creation", 11)]
    assert report.findings[0].excerpt == "ALTER TABLE todos DROP COLUMN done"
    assert report.findings[1].excerpt == "CREATE INDEX i ON todos (title)"


def test_long_statements_are_cut_in_the_excerpt():
    [f] = lint("ALTER TABLE todos DROP COLUMN " + "x" * 200).findings
    assert len(f.excerpt) == 80 and f.excerpt.endswith("…")


@pytest.mark.parametrize("sql,line,words", [
    ("SELECT 1;\n\nCREATE TABL x (a int);", 3, 'syntax error at or near "TABL"'),
    ("ALTER TABLE todos\n  ADD COLUMN p int;\nSELECT 'oops;\n", 3, "unterminated quoted string"),
    ("SELECT 1;\nSELECT (\n\n", 2, "syntax error at end of input"),
])
def test_a_syntax_error_is_one_sentence_with_the_line(sql, line, words):
    with pytest.raises(InvalidInput) as e:
        lint(sql, "0003.sql")
    assert str(e.value).startswith(f"0003.sql line {line}: {words}")
    assert "\n" not in str(e.value)


def test_message_names_rule_line_reason_and_alternative():
    text = lint("ALTER TABLE todos ADD COLUMN x int;\nDROP TABLE todos;", "m.sql").message()
    assert text.splitlines() == [
        "m.sql line 2: ban-drop-table (destructive): DROP TABLE todos",
        f"  why: {RULES['ban-drop-table'][1]}",
        f"  instead: {RULES['ban-drop-table'][2]}",
    ]
    assert "no destructive or locking" in lint("SELECT 1", "m.sql").message()


def test_report_round_trips_as_json():
    report = lint("DROP TABLE todos")
    assert LintReport.model_validate_json(report.model_dump_json()) == report


# The demo to-do app's expand/contract pair (examples/todo/migrations).

def test_demo_expand_migration_passes():
    report = lint((MIGRATIONS / "0001_expand_priority.sql").read_text())
    assert report.findings == []


def test_demo_contract_migration_is_refused_unless_allowed():
    report = lint((MIGRATIONS / "0002_contract_drop_created_at.sql").read_text())
    [f] = report.refused(allow_destructive=False)
    assert (f.rule, f.line) == ("ban-drop-column", 4)
    assert "--post-promote-command" in f.safe_alternative
    assert report.refused(allow_destructive=True) == []
