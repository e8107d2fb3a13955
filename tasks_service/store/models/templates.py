"""Templates (4me): a task template fills a new task's fields; a workflow template is
a whole plan (phases, one task per task template, the links and failure paths between
them) that ``POST /workflows`` with ``template_id`` instantiates in one operation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, Text
from sqlmodel import Field, SQLModel

from tasks_service.core.statuses import TaskCategory, TaskImpact, WorkflowCategory
from tasks_service.store.models.columns import created


class TaskTemplate(SQLModel, table=True):
    __tablename__ = "task_template"
    __table_args__ = (Index("ix_task_template_account", "account_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    subject: str = Field(max_length=255)
    category: TaskCategory = Field(sa_type=String(32))
    impact: TaskImpact | None = Field(default=None, sa_type=String(16))
    planned_duration: int | None = None
    instructions: str | None = Field(default=None, sa_type=Text)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    member_id: int | None = Field(default=None, foreign_key="person.id")
    required_approvals: int = 1
    work_hours_are_24x7: bool = False
    disabled: bool = False
    created_at: datetime = created()
    updated_at: datetime = created()


class WorkflowTemplate(SQLModel, table=True):
    """``plan`` holds its phases and task template relations as validated by
    ``store.schemas.templates.WorkflowPlan`` (read and written whole)."""

    __tablename__ = "workflow_template"
    __table_args__ = (Index("ix_workflow_template_account", "account_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    subject: str = Field(max_length=255)
    category: WorkflowCategory = Field(sa_type=String(32))
    instructions: str | None = Field(default=None, sa_type=Text)
    disabled: bool = False
    plan: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = created()
    updated_at: datetime = created()
