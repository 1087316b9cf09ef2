"""projects: names unique within a workspace, not across the instance

A project's name was unique across the whole instance, so a manager who tried a name that a
project of another workspace held got "exists already" (409): a way to learn other workspaces'
project names. Names are now unique within a workspace (``uq_projects_workspace_id_name``);
a name that several workspaces use is resolved among the projects the caller may see.

On SQLite the table is rebuilt (a unique constraint cannot be dropped there); the store turns
foreign-key enforcement off while it migrates, so the rebuild does not cascade to the rows that
refer to projects.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_constraint("uq_projects_name", type_="unique")
        batch_op.create_unique_constraint("uq_projects_workspace_id_name", ["workspace_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_constraint("uq_projects_workspace_id_name", type_="unique")
        batch_op.create_unique_constraint("uq_projects_name", ["name"])
