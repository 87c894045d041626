"""TODO(in progress): endpoints of this area."""

from flask import Blueprint

bp = Blueprint("chat", __name__)
