"""catalog: resources, fields, versions, data elements

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:24:03.445007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shengjing.store.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_element",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("data_type", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=100), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("code_list", sa.String(length=100), nullable=True),
        sa.Column("standard", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_element")),
        sa.UniqueConstraint("code", name=op.f("uq_data_element_code")),
    )
    op.create_table(
        "resource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("share_type", sa.String(length=16), nullable=False),
        sa.Column("open_type", sa.String(length=16), nullable=False),
        sa.Column("update_frequency", sa.String(length=16), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("formats", sa.JSON(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=True),
        sa.Column("standardization", sa.Text(), nullable=False),
        sa.Column("quality_rules", sa.Text(), nullable=False),
        sa.Column("created_at", shengjing.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shengjing.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["organization.id"], name=op.f("fk_resource_department_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource")),
        sa.UniqueConstraint("code", name=op.f("uq_resource_code")),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index("ix_resource_department_id", ["department_id"], unique=False)

    op.create_table(
        "resource_field",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("data_type", sa.String(length=32), nullable=False),
        sa.Column("data_element_id", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_element_id"], ["data_element.id"], name=op.f("fk_resource_field_data_element_id_data_element")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resource.id"], name=op.f("fk_resource_field_resource_id_resource"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_field")),
        sa.UniqueConstraint("resource_id", "name", name=op.f("uq_resource_field_resource_id_name")),
    )
    with op.batch_alter_table("resource_field", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_field_resource_id"), ["resource_id"], unique=False)

    op.create_table(
        "resource_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("rows_in", sa.Integer(), nullable=False),
        sa.Column("rows_accepted", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("quarantine_version", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", shengjing.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resource.id"], name=op.f("fk_resource_version_resource_id_resource"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_version")),
        sa.UniqueConstraint("resource_id", "version", name=op.f("uq_resource_version_resource_id_version")),
    )
    with op.batch_alter_table("resource_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_version_resource_id"), ["resource_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("resource_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_version_resource_id"))

    op.drop_table("resource_version")
    with op.batch_alter_table("resource_field", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_field_resource_id"))

    op.drop_table("resource_field")
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.drop_index("ix_resource_department_id")

    op.drop_table("resource")
    op.drop_table("data_element")
