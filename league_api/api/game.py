"""TODO(in progress): endpoints of this area."""

from flask import Blueprint

bp = Blueprint("game", __name__)
