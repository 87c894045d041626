"""TODO(in progress): endpoints of this area."""

from flask import Blueprint

bp = Blueprint("leagues", __name__)
