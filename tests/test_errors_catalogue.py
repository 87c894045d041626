"""The error catalogue: one class per contract code (API.md section 2), each with its status."""

from __future__ import annotations

import pytest

from league_api import errors

CONTRACT = {
    400: {
        "error_invalid_request",
        "error_invalid_json",
        "error_idempotency_key_invalid",
        "error_team_not_in_match",
    },
    401: {"error_api_key_required", "error_api_key_invalid"},
    403: {
        "error_api_key_permission_denied",
        "error_game_scope_mismatch",
        "error_league_scope_mismatch",
        "error_not_match_participant",
        "error_captain_required",
        "error_cannot_confirm_own_score",
    },
    404: {
        "error_not_found",
        "error_match_not_found",
        "error_team_not_found",
        "error_game_not_found",
        "error_league_not_found",
        "error_season_not_found",
        "error_message_not_found",
        "error_ticket_not_found",
        "error_score_not_found",
    },
    405: {"error_method_not_allowed"},
    409: {
        "error_match_not_in_valid_state",
        "error_season_not_in_valid_state",
        "error_ticket_closed",
        "error_score_already_submitted_by_game",
        "error_idempotency_key_conflict",
        "error_idempotency_key_in_use",
    },
    413: {"error_payload_too_large"},
    415: {"error_unsupported_media_type"},
    500: {"error_internal"},
    503: {"error_service_unavailable"},
}


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
