"""editor: drafts, reviews and versions of pathways, content and forms

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 23:45:00

A hospital's own copies of library documents (``library_documents``), their numbered versions
(``document_versions``: drafts with a revision for optimistic concurrency, then in review,
published, retired), reviewers' decisions, the per-hospital review policy and the history.
Published pathways are also rows of ``pathway_versions``, which the engine loads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_documents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("upstream_hash", sa.String(length=64), nullable=True),
        sa.Column("dismissed_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_library_documents_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_documents")),
        sa.UniqueConstraint("hospital_id", "kind", "name", name=op.f("uq_library_documents_hospital_id")),
    )
    with op.batch_alter_table("library_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_library_documents_hospital_id"), ["hospital_id"], unique=False)

    op.create_table(
        "review_policies",
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_review_policies_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("hospital_id", name=op.f("pk_review_policies")),
    )
    op.create_table(
        "document_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("based_on_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("upstream_hash", sa.String(length=64), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("saved_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("saved_by_name", sa.String(length=100), nullable=False),
        sa.Column("saved_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("submitted_at", carepath.store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("published_at", carepath.store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("published_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("published_by_name", sa.String(length=100), nullable=True),
        sa.Column("migrate", sa.Boolean(), nullable=True),
        sa.Column("engine_version", sa.String(length=80), nullable=True),
        sa.Column("pathway_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("retired_at", carepath.store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["library_documents.id"],
            name=op.f("fk_document_versions_document_id_library_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_document_versions_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["pathway_version_id"],
            ["pathway_versions.id"],
            name=op.f("fk_document_versions_pathway_version_id_pathway_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_versions")),
        sa.UniqueConstraint("document_id", "number", name=op.f("uq_document_versions_document_id")),
    )
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_versions_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_versions_hospital_id"), ["hospital_id"], unique=False)

    op.create_table(
        "document_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["library_documents.id"],
            name=op.f("fk_document_events_document_id_library_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_document_events_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["document_versions.id"],
            name=op.f("fk_document_events_version_id_document_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_events")),
    )
    with op.batch_alter_table("document_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_events_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_events_hospital_id"), ["hospital_id"], unique=False)

    op.create_table(
        "document_reviews",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reviewer_name", sa.String(length=100), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_document_reviews_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["document_versions.id"],
            name=op.f("fk_document_reviews_version_id_document_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_reviews")),
        sa.UniqueConstraint(
            "version_id", "round", "reviewer_id", name=op.f("uq_document_reviews_version_id")
        ),
    )
    with op.batch_alter_table("document_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_reviews_hospital_id"), ["hospital_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_reviews_version_id"), ["version_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("document_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_reviews_version_id"))
        batch_op.drop_index(batch_op.f("ix_document_reviews_hospital_id"))

    op.drop_table("document_reviews")
    with op.batch_alter_table("document_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_events_hospital_id"))
        batch_op.drop_index(batch_op.f("ix_document_events_document_id"))

    op.drop_table("document_events")
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_versions_hospital_id"))
        batch_op.drop_index(batch_op.f("ix_document_versions_document_id"))

    op.drop_table("document_versions")
    op.drop_table("review_policies")
    with op.batch_alter_table("library_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_documents_hospital_id"))

    op.drop_table("library_documents")
