"""The read-only query check reads literals and comments as each database does (an injection corpus).

Each rejected case hides a second statement or a write where a wrong reading of quotes, backslashes
or comments would see only a literal or a comment. Each accepted case is a read-only query that a
too-simple reading would wrongly refuse or that shows the dialect's own quoting.
"""

from __future__ import annotations

import pytest

from headwater.connectors.sql_text import check_read_only_query

SINGLE = "query must be a single statement; remove the ';' and what follows it"

REJECTED = [
    # PostgreSQL: with standard_conforming_strings on (the default) a backslash is an ordinary character.
    ("postgres", "SELECT '\\' ; DELETE FROM t; --'", SINGLE, "pg_backslash_in_standard_string"),
    ("postgres", "SELECT '\\\\' ; DELETE FROM t; --'", SINGLE, "pg_double_backslash"),
    ("postgres", "SELECT 'x\\' || 'y' ; DELETE FROM t; --'", SINGLE, "pg_backslash_then_concat"),
    # ... and with it off, a backslash escapes the quote: both readings are checked.
    ("postgres", "SELECT 'a\\'' ; DELETE FROM t; --'", SINGLE, "pg_legacy_escape"),
    # PostgreSQL block comments nest: the first */ does not end the outer one.
    ("postgres", "SELECT 1 /* /* */ ' */ ; DELETE FROM t; -- '", SINGLE, "pg_nested_comment"),
    # A `$` inside an identifier opens no dollar quote.
    ("postgres", "SELECT a$$ ; DELETE FROM t; $$", SINGLE, "pg_dollar_in_identifier"),
    ("postgres", "SELECT $a$ ; $b$ $a$ ; DELETE FROM t; SELECT $b$", SINGLE, "pg_dollar_tags_differ"),
    ("postgres", 'SELECT 1 AS "x\\" ; DELETE FROM t; --"', SINGLE, "pg_backslash_in_identifier"),
    ("postgres", "SELECT U&'\\' ; DELETE FROM t; --'", SINGLE, "pg_unicode_string"),
    ("postgres", "SELECT 1 -- note\n; DELETE FROM t", SINGLE, "pg_line_comment"),
    ("postgres", "SELECT 1 -- note\r; DELETE FROM t", SINGLE, "pg_carriage_return_ends_comment"),
    ("postgres", "SELECT/**/1;DELETE/**/FROM t", SINGLE, "pg_comments_as_blanks"),
    (
        "postgres",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "query must be read-only; it contains DELETE",
        "pg_writing_cte",
    ),
    (
        "postgres",
        "select * from t for update",
        "query must be read-only; it contains UPDATE",
        "pg_for_update",
    ),
    (
        "postgres",
        "DO $$ BEGIN DELETE FROM t; END $$",
        "query must be a single read-only SELECT or WITH statement; it starts with DO",
        "pg_do_block",
    ),
    ("postgres", "SELECT * INTO t2 FROM t", "query must be read-only; it contains INTO", "pg_select_into"),
    # MySQL: with NO_BACKSLASH_ESCAPES a backslash is an ordinary character.
    ("mysql", "SELECT '\\' ; DELETE FROM t; -- '", SINGLE, "my_no_backslash_escapes"),
    ("mysql", "SELECT '\\'' ; DELETE FROM t; -- '", SINGLE, "my_escaped_quote"),
    ("mysql", "SELECT 'a\\\\' ; DELETE FROM t; -- '", SINGLE, "my_escaped_backslash"),
    # ANSI_QUOTES: "..." is an identifier, where a backslash escapes nothing.
    ("mysql", 'SELECT "\\" ; DELETE FROM t; -- "', SINGLE, "my_ansi_quotes"),
    # `#` starts a comment; `--` only before a blank; /*! ... */ is executed.
    ("mysql", "SELECT 1 # '\n; DELETE FROM t; -- '", SINGLE, "my_hash_comment"),
    ("mysql", "SELECT 1 --'\n' ; DELETE FROM t; -- '", SINGLE, "my_dashes_without_blank"),
    ("mysql", "SELECT 1 -- \n; DELETE FROM t", SINGLE, "my_dashes_with_blank"),
    # ... and only a line feed ends it: a carriage return does not.
    ("mysql", "SELECT 1 # x\r' \n; DELETE FROM t; -- '", SINGLE, "my_carriage_return_in_comment"),
    ("mysql", "SELECT 1 /*! ; DELETE FROM t */", SINGLE, "my_executable_comment"),
    (
        "mysql",
        "SELECT 1 /*!50700 , x INTO @v */",
        "query must be read-only; it contains INTO",
        "my_versioned_comment",
    ),
    ("mysql", "SELECT 1 /*M!100100 ; DROP TABLE t */", SINGLE, "mariadb_executable_comment"),
    # No dollar quoting in MySQL: $x$ is an identifier.
    ("mysql", "SELECT 1 AS $x$, 2; DELETE FROM t; SELECT $x$", SINGLE, "my_no_dollar_quotes"),
    (
        "mysql",
        "SELECT * FROM t INTO OUTFILE '/tmp/x'",
        "query must be read-only; it contains INTO",
        "my_into_outfile",
    ),
    # SQLite: [brackets] quote an identifier; a backslash is an ordinary character.
    ("sqlite", "SELECT 1 AS [x'] ; DELETE FROM t; --", SINGLE, "sqlite_bracket_identifier"),
    ("sqlite", "SELECT '\\' ; DELETE FROM t; --'", SINGLE, "sqlite_backslash"),
    # Unknown dialect: every reading must pass.
    ("generic", "SELECT E'\\'; DELETE FROM t; --'", SINGLE, "generic_e_string"),
    ("generic", "SELECT 1; DROP TABLE t", SINGLE, "generic_second_statement"),
    ("generic", "  ;  ", "query is empty", "generic_empty"),
]

ACCEPTED = [
    ("postgres", "SELECT replace(path, '\\', '/') AS p FROM files", "pg_backslash_path"),
    ("postgres", "SELECT E'\\' ; DELETE FROM t; --' AS x", "pg_e_string_escapes"),
    ("postgres", "SELECT $$ ; DELETE FROM t $$ AS body", "pg_dollar_quote"),
    ("postgres", "SELECT $tag$ it's ; $tag$ AS x, price$ FROM t", "pg_dollar_tag"),
    ("postgres", "SELECT 1 /* outer /* inner */ still comment ; DELETE */", "pg_nested_comment_closed"),
    ("postgres", "SELECT 'it''s' AS x, \"update\" FROM t", "pg_quoted_keyword"),
    ("mysql", 'SELECT \'it\\\'s\' AS x, "say \\"hi\\"" AS y', "my_backslash_escapes"),
    ("mysql", "SELECT 1 AS `weird;name`, 5--1 AS six", "my_backtick_and_minus_minus"),
    ("mysql", "SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t # trailing ; note", "my_hint_and_hash"),
    ("mysql", "SELECT 1 # x\r; DELETE FROM t", "my_comment_runs_past_carriage_return"),
    ("sqlite", 'SELECT [order; DELETE], "a"";DELETE" FROM t', "sqlite_identifiers"),
    ("generic", "SELECT * FROM t WHERE name = 'O''Brien' -- ; note", "generic_doubled_quote"),
]


@pytest.mark.parametrize(
    ("dialect", "query", "message"), [pytest.param(d, q, m, id=i) for d, q, m, i in REJECTED]
)
def test_hidden_statements_and_writes_are_refused(dialect: str, query: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_read_only_query(query, dialect)
    assert str(raised.value) == message


@pytest.mark.parametrize(("dialect", "query"), [pytest.param(d, q, id=i) for d, q, i in ACCEPTED])
def test_read_only_queries_pass(dialect: str, query: str) -> None:
    assert check_read_only_query(query + ";", dialect) == query


def test_connector_models_check_in_their_own_dialect() -> None:
    from headwater.connectors.models import MySqlConnector, PostgresConnector, SqliteConnector

    query = "SELECT replace(p, '\\', '/') AS p FROM t"  # fine in PostgreSQL, hides nothing in MySQL
    assert PostgresConnector(type="postgres", conn_id="c", query=query).query == query
    hidden = "SELECT '\\' ; DELETE FROM t; --'"
    for model, kind in ((PostgresConnector, "postgres"), (MySqlConnector, "mysql")):
        with pytest.raises(ValueError, match="single statement"):
            model(type=kind, conn_id="c", query=hidden)
    with pytest.raises(ValueError, match="single statement"):
        SqliteConnector(type="sqlite", database="x.db", query="SELECT 1 AS [x'] ; DELETE FROM t; --")
