"""search: full-text index of the OI's interventions (FTS5 on SQLite, tsvector + GIN on PostgreSQL)

Written by hand: autogenerate knows neither FTS5 virtual tables nor tsvector columns. The statements
are those of ``tocsin.core.search.storage_ddl`` for the index named "interventions". Existing rows are
indexed by ``tocsin search rebuild`` (the rules index each new or changed intervention themselves).

Revision ID: 03b7f0ef6c9c
Revises: 03ae460d4506
Create Date: 2026-11-30 20:00:00
"""

from alembic import op


revision = "03b7f0ef6c9c"
down_revision = "03ae460d4506"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # ascii tokenizer: terms arrive analysed (letters and digits, space-separated) and stay as they are
        op.execute(
            "CREATE VIRTUAL TABLE search_interventions USING fts5("
            "a, b, c, d, fields UNINDEXED, tokenize = 'ascii', prefix = '3 4')"
        )
    else:
        op.execute(
            "CREATE TABLE search_interventions (doc_id BIGINT PRIMARY KEY, body TSVECTOR NOT NULL, "
            "fields JSONB NOT NULL)"
        )
        op.execute("CREATE INDEX ix_search_interventions_body ON search_interventions USING GIN (body)")


def downgrade() -> None:
    op.execute("DROP TABLE search_interventions")
