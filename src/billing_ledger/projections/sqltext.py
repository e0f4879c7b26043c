"""SQL of the projections, rendered once per target schema.

Projections run tens of thousands of statements a second; composing `psycopg.sql` objects for
each one cost more than executing them. Templates name the schema `{schema}`; the name is
quoted as an identifier, so any schema (billing, or a rebuild's) is safe to interpolate.
"""

from __future__ import annotations

from functools import cache

from psycopg import sql


@cache
def in_schema(template: str, schema: str) -> str:
    return sql.SQL(template).format(schema=sql.Identifier(schema)).as_string()
