"""SQLAlchemy Core statements for the SQL sources, and compiling them for a DB-API driver.

Every SQL source builds its select, its column probe and its catalog lookups here, as Core
constructs (`select()`, `table()`, `column()`, bound parameters), and each database's hook only
picks the dialect that compiles them. Names are always quoted by the dialect (`quoted_name(...,
quote=True)`), so they match exactly as written in the source file, whatever the case. Imported
only inside tasks: SQLAlchemy is not needed to parse a DAG.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.elements import quoted_name

WATERMARK = "hw_watermark"  # name of the one bound parameter of an incremental select


def ident(name: str) -> quoted_name:
    """A name the dialect always quotes (never case-folded, never read as a keyword)."""
    return quoted_name(name, quote=True)


def split_table(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return schema or None, name


def table_clause(table: str, *columns: str) -> sa.TableClause:
    """`name` or `schema.name` as a Core table (with the given columns, for catalog tables)."""
    schema, name = split_table(table)
    return sa.table(ident(name), *(sa.column(ident(c)) for c in columns), schema=ident(schema) if schema else None)


def query_clause(query: str) -> sa.Subquery:
    """A read-only query as a subquery `hw_src`.

    Colons are escaped because `text()` reads `:name` as a bind parameter, even inside a string
    literal of the query; newlines around it so a trailing `-- comment` cannot swallow the `)`.
    """
    return sa.text("\n" + query.replace(":", "\\:") + "\n").columns().subquery("hw_src")


def source_clause(table: str | None, query: str | None) -> sa.FromClause:
    return table_clause(table) if table else query_clause(query or "")


def select_statement(
    source: sa.FromClause,
    columns: list[str] | None,
    cursor: str | None,
    watermark: object = None,
    watermark_type: sa.types.TypeEngine | None = None,
) -> sa.Select:
    """`SELECT <columns | *> FROM <source> [WHERE cursor >= :watermark] [ORDER BY cursor]`."""
    selected = [sa.column(ident(c)) for c in columns] if columns else [sa.literal_column("*")]
    stmt = sa.select(*selected).select_from(source)
    if cursor:
        column = sa.column(ident(cursor))
        if watermark is not None:
            stmt = stmt.where(column >= sa.bindparam(WATERMARK, watermark, type_=watermark_type))
        stmt = stmt.order_by(column)
    return stmt


def empty_probe(source: sa.FromClause) -> sa.Select:
    """Every column of `source` and no row (`WHERE 1 = 0` in the dialect's spelling)."""
    return sa.select(sa.literal_column("*")).select_from(source).where(sa.false())


def information_schema_tables(schema: str | None, default_schema: sa.ColumnElement) -> sa.Select:
    """Names of the tables and views of `schema` (or the session's default) in the standard catalog."""
    tables = sa.table(
        ident("tables"), sa.column(ident("table_name")), sa.column(ident("table_schema")), schema="information_schema"
    )
    where = default_schema if schema is None else sa.bindparam("hw_schema", schema, type_=sa.String())
    return sa.select(tables.c.table_name.label("name")).where(tables.c.table_schema == where)


def pg_catalog_tables(schema: str | None) -> sa.Select:
    """PostgreSQL and Redshift: tables, views, materialized views, foreign and partitioned tables of
    `schema` (None: the schemas of the search path), whatever the user's privileges on them."""
    pg_class = sa.table("pg_class", sa.column("relname"), sa.column("relnamespace"), sa.column("relkind"), schema="pg_catalog")
    pg_ns = sa.table("pg_namespace", sa.column("oid"), sa.column("nspname"), schema="pg_catalog")
    in_schema = (
        pg_ns.c.nspname == sa.bindparam("hw_schema", schema, type_=sa.String())
        if schema
        else pg_ns.c.nspname == sa.func.any(sa.func.current_schemas(sa.false()))
    )
    return (
        sa.select(pg_class.c.relname.label("name"))
        .select_from(pg_class.join(pg_ns, pg_class.c.relnamespace == pg_ns.c.oid))
        .where(in_schema, pg_class.c.relkind.in_(["r", "v", "m", "f", "p"]))
    )


def pg_catalog_schemas() -> sa.Select:
    pg_ns = sa.table("pg_namespace", sa.column("nspname"), schema="pg_catalog")
    return sa.select(pg_ns.c.nspname.label("name"))


def information_schema_schemata(upper: bool = False) -> sa.Select:
    """Schema names in the standard catalog (SQL Server spells it in capitals)."""
    table, column = ("SCHEMATA", "SCHEMA_NAME") if upper else ("schemata", "schema_name")
    schemata = sa.table(ident(table), sa.column(ident(column)), schema="INFORMATION_SCHEMA" if upper else "information_schema")
    return sa.select(schemata.c[column].label("name"))


def named(catalog: sa.Select, name: str) -> sa.Select:
    """`catalog` (one column `name`) narrowed to one name: whether that table exists."""
    sub = catalog.subquery("hw_catalog")
    return sa.select(sub.c.name).where(sub.c.name == sa.bindparam("hw_name", name, type_=sa.String()))


def compile_sql(stmt: sa.ClauseElement, dialect: Dialect) -> tuple[str, list | dict]:
    """SQL text and parameters in the driver's own paramstyle.

    Drivers with a `format`/`pyformat` paramstyle read `%%` as `%` only when parameters are given,
    and send the text untouched otherwise; so a statement without parameters is compiled without
    SQLAlchemy's doubling of `%` (by a dialect of the same kind with a named paramstyle).
    """
    # render_postcompile: `IN (...)` lists as one parameter per value, not SQLAlchemy's placeholder
    options = {"render_postcompile": True}
    compiled = stmt.compile(dialect=dialect, compile_kwargs=options)
    params = compiled.params
    if not params and dialect.paramstyle in ("format", "pyformat"):
        return str(stmt.compile(dialect=type(dialect)(paramstyle="named"), compile_kwargs=options)), []
    if compiled.positiontup is not None:
        return str(compiled), [params[name] for name in compiled.positiontup]
    return str(compiled), dict(params)


def inline_dialect(dialect_class: type[Dialect], render: Callable[[object], str]) -> Dialect:
    """A dialect that writes every bound value into the SQL text as `render(value)` gives it.

    For drivers that take no parameters where they stream (ADBC) or that substitute them on the
    client anyway (pymssql): `render` is then the driver's own quoting, so the text is what the
    driver would have sent. The paramstyle is `named` so no `%` is doubled (no driver reads it).
    """

    class InlineCompiler(dialect_class.statement_compiler):  # type: ignore[name-defined,misc]
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("compile_kwargs", {})
            kwargs["compile_kwargs"] = {**kwargs["compile_kwargs"], "literal_binds": True}
            super().__init__(*args, **kwargs)

        def render_literal_value(self, value, type_):
            return render(value)

    class InlineDialect(dialect_class):  # type: ignore[valid-type,misc]
        statement_compiler = InlineCompiler

    return InlineDialect(paramstyle="named")
