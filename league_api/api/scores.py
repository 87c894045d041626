"""TODO(in progress): endpoints of this area."""

from flask import Blueprint

bp = Blueprint("scores", __name__)
