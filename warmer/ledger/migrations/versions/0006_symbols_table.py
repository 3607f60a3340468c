"""symbols table: symbol_index searched through indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 01:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # trusted: no superuser needed
    op.create_index("ix_cache_refs_entry", "cache_refs", ["entry_key", "repo_id", "branch"])
    op.create_table(
        "symbols",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("folded", sa.String(length=300), nullable=False),
        sa.Column("initials", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("start_line", sa.Integer(), nullable=False),
        sa.Column("symbol", Json, nullable=False),
        sa.ForeignKeyConstraint(["entry_key"], ["cache_entries.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_symbols_entry", "symbols", ["entry_key"])
    op.create_index("ix_symbols_name", "symbols", ["name"])
    op.create_index("ix_symbols_folded", "symbols", ["folded"], postgresql_ops={"folded": "text_pattern_ops"})
    op.create_index(
        "ix_symbols_initials", "symbols", ["initials"], postgresql_ops={"initials": "text_pattern_ops"}
    )
    op.create_index(
        "ix_symbols_folded_trgm", "symbols", ["folded"], postgresql_using="gin",
        postgresql_ops={"folded": "gin_trgm_ops"},
    )  # fmt: skip
    if not postgres:
        # SQLite's equivalent of the trigram index: an external-content FTS5 table kept by triggers.
        op.execute(
            "CREATE VIRTUAL TABLE symbols_trigram USING fts5(folded, content='symbols', content_rowid='id', "
            "tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER symbols_trigram_insert AFTER INSERT ON symbols BEGIN "
            "INSERT INTO symbols_trigram(rowid, folded) VALUES (new.id, new.folded); END"
        )
        op.execute(
            "CREATE TRIGGER symbols_trigram_delete AFTER DELETE ON symbols BEGIN "
            "INSERT INTO symbols_trigram(symbols_trigram, rowid, folded) "
            "VALUES ('delete', old.id, old.folded); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS symbols_trigram_delete")
        op.execute("DROP TRIGGER IF EXISTS symbols_trigram_insert")
        op.execute("DROP TABLE IF EXISTS symbols_trigram")
    op.drop_table("symbols")
    op.drop_index("ix_cache_refs_entry", table_name="cache_refs")
