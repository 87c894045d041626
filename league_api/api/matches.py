"""TODO(in progress): endpoints of this area."""

from flask import Blueprint

bp = Blueprint("matches", __name__)
