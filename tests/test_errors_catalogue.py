"""The error catalogue: one class per code of docs/API.md's error table, each with its status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from league_api import errors

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "API.md"


def contract_codes() -> dict[int, set[str]]:
    """The codes of the error table in docs/API.md section 3, by status."""
    section = GUIDE.read_text().split("## 3. Errors", 1)[1].split("\n## ", 1)[0]
    by_status: dict[int, set[str]] = {}
    for status, codes in re.findall(r"^\| (\d{3}) \| (.+?) \|", section, flags=re.M):
        by_status.setdefault(int(status), set()).update(re.findall(r"`(error_\w+)`", codes))
    return by_status


CONTRACT = contract_codes()


def test_one_class_per_contract_code():
    classes = errors.catalogue()
    by_status: dict[int, set[str]] = {}
    for cls in classes:
        by_status.setdefault(cls.status, set()).add(cls.error_code)
    assert by_status == CONTRACT
    assert len({cls.error_code for cls in classes}) == len(classes)


@pytest.mark.parametrize("cls", errors.catalogue(), ids=lambda cls: cls.__name__)
def test_each_error_renders_the_envelope_with_its_status_and_default_message(app, cls):
    with app.app_context():
        response = cls().get_response()
        custom = cls("more precise").get_response()
    assert response.status_code == cls.status
    assert response.get_json() == {"error": cls.error_code, "details": cls.message}
    assert custom.get_json()["details"] == "more precise"
    for header in cls.header_names:
        if header != "Allow":  # set by the router, which knows the methods
            assert response.headers[header]
