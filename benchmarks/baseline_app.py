"""The baseline of benchmarks/commands.py: a bare Flask + SQLAlchemy endpoint that inserts
the same task row synchronously into the same database (no auth, no queue, no worker).
"""

from __future__ import annotations

from flask import Flask, request
from sqlmodel import Session

from tasks_service.core.settings import get_settings
from tasks_service.store.db import get_engine
from tasks_service.store.models import Task

app = Flask(__name__)
engine = get_engine(get_settings())


@app.post("/tasks")
def create_task() -> tuple[dict[str, object], int]:
    body = request.get_json()
    with Session(engine) as session, session.begin():
        task = Task(
            account_id=body["account_id"], subject=body["subject"], category=body["category"]
        )
        session.add(task)
        session.flush()
        return {"id": task.id, "subject": task.subject, "status": task.status}, 201
