"""surveys, their questions, the members' responses and answers

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("base_locale", sa.String(length=16), nullable=False),
        sa.Column("title", Json, nullable=False),
        sa.Column("intro", Json, nullable=False),
        sa.Column("closing", Json, nullable=False),
        sa.Column("reminder", Json, nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("allow_again", sa.Boolean(), nullable=False),
        sa.Column("closes_at", When, nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("broadcast_id", Id, nullable=True),
        sa.Column("remind_at", When, nullable=True),
        sa.Column("reminder_broadcast_id", Id, nullable=True),
        sa.Column("reminded_at", When, nullable=True),
        sa.Column("created_by", Id, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("opened_at", When, nullable=True),
        sa.Column("closed_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_surveys_status", "surveys", ["status"])
    op.create_table(
        "survey_questions",
        sa.Column("id", Id, nullable=False),
        sa.Column("survey_id", Id, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("text", Json, nullable=False),
        sa.Column("options", Json, nullable=False),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.Column("show_if", Json, nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("survey_id", "key", name="uq_survey_questions_key"),
    )
    op.create_index("ix_survey_questions_order", "survey_questions", ["survey_id", "position"])
    op.create_table(
        "survey_responses",
        sa.Column("id", Id, nullable=False),
        sa.Column("survey_id", Id, nullable=False),
        sa.Column("contact_id", Id, nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_question_id", Id, nullable=True),
        sa.Column("path", Json, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("invited", sa.Boolean(), nullable=False),
        sa.Column("started_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("finished_at", When, nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "survey_id", "contact_id", "attempt", name="uq_survey_responses_member"
        ),
    )
    op.create_index("ix_survey_responses_survey", "survey_responses", ["survey_id", "status"])
    op.create_index(op.f("ix_survey_responses_contact_id"), "survey_responses", ["contact_id"])
    op.create_table(
        "survey_answers",
        sa.Column("id", Id, nullable=False),
        sa.Column("response_id", Id, nullable=False),
        sa.Column("question_id", Id, nullable=False),
        sa.Column("value", Json, nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("answered_at", When, nullable=False),
        sa.ForeignKeyConstraint(["response_id"], ["survey_responses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["question_id"], ["survey_questions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("response_id", "question_id", name="uq_survey_answers_question"),
    )
    op.create_index(op.f("ix_survey_answers_question_id"), "survey_answers", ["question_id"])


def downgrade() -> None:
    op.drop_table("survey_answers")
    op.drop_table("survey_responses")
    op.drop_table("survey_questions")
    op.drop_table("surveys")
