"""A host site as a league would write it: its own Flask-SQLAlchemy instance, its own model and
Flask-Migrate, ``@idempotent`` on its own view, and the whole league API mounted on its db.

``gunicorn "tests.apps.host_app:create_app()"`` (or ``flask --app ...``) with
``FLASK_SQLALCHEMY_DATABASE_URI``; ``HOST_MIGRATIONS_DIR`` is where the host keeps its own
migrations (``flask db init`` makes it); ``HOST_CREATE_ALL=0`` leaves its table to them.
"""

from __future__ import annotations

import os

from flask import Flask, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import league_api
from league_api import idempotency
from league_api.jsonbody import json_object_body


class HostBase(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=HostBase)


class Order(db.Model):
    """The host's own table, beside league_api's."""

    __tablename__ = "host_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    item: Mapped[str] = mapped_column(String(100))


def member_id() -> str:
    return request.headers.get("X-Member", "anonymous")


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_prefixed_env()
    db.init_app(app)
    Migrate(app, db, directory=os.environ.get("HOST_MIGRATIONS_DIR", "migrations"))
    league_api.init_app(app, db=db)  # league tables and the API, on the host's db
    idempotency.init_app(app, identity=member_id)  # the host's views: by the host's member

    @app.post("/orders")
    @idempotency.idempotent
    def create_order():
        order = Order(item=str(json_object_body().get("item", "")))
        db.session.add(order)
        db.session.flush()  # the decorator commits, with its record, in one transaction
        return {"orderId": order.id, "item": order.item}, 201, {"Location": f"/orders/{order.id}"}

    if os.environ.get("HOST_CREATE_ALL", "1") == "1":
        with app.app_context():
            db.create_all()  # the host's own tables (league_api's come from its migrations)
    return app
