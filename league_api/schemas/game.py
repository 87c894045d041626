"""Game developer bodies (API.md 5.1): match creation, forfeit, status and listing."""

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from league_api.schemas import BEST_OF, Done, EpochMillis, JSONInteger, Reply, Text
from league_api.schemas.matches import MatchOutSchema, roster_of
from league_api.states import CANCELLED, IN_PROGRESS, MATCH_STATES

ID = validate.Length(1, 100)
# Epoch milliseconds from 1970 to the last millisecond of 9999: both databases store these.
# A map pool larger than this is not a selection any more.
MAX_SELECTED_MAPS = 50


def _user_ids(data_key: str) -> fields.List:
    return fields.List(
        fields.String(validate=ID), data_key=data_key, load_default=None, allow_none=True
    )


class GameMatchCreateSchema(Schema):
    creator_team_id = fields.String(data_key="creatorTeamId", required=True, validate=ID)
    accepted_team_id = fields.String(data_key="acceptedTeamId", required=True, validate=ID)
    game_mode_id = Text(1, 100, data_key="gameModeId", required=True)
    best_of = JSONInteger(data_key="bestOf", required=True, validate=validate.OneOf(BEST_OF))
    team_size = JSONInteger(data_key="teamSize", required=True, validate=validate.Range(1, 10))
    region = Text(1, 100, load_default=None, allow_none=True)
    platform = Text(1, 100, load_default=None, allow_none=True)
    scheduled_at = EpochMillis(data_key="scheduledAt", load_default=None, allow_none=True)
    selected_maps = fields.List(
        Text(1, 100),
        data_key="selectedMaps",
        load_default=list,
        validate=validate.Length(max=MAX_SELECTED_MAPS),
    )
    creator_roster = _user_ids("creatorRoster")
    accepted_roster = _user_ids("acceptedRoster")

    @validates_schema
    def two_teams(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["creator_team_id"] == data["accepted_team_id"]:
            raise ValidationError("must differ from creatorTeamId", field_name="acceptedTeamId")


class GameForfeitSchema(Schema):
    forfeiting_team_id = fields.String(data_key="forfeitingTeamId", required=True, validate=ID)
    reason = Text(1, 500, load_default=None, allow_none=True)


class GameStatusSchema(Schema):
    # The cross-field rule below, as JSON Schema states it (merged into the document).
    OPENAPI_EXTRA: ClassVar[dict[str, Any]] = {
        "if": {"properties": {"status": {"const": IN_PROGRESS}}, "required": ["status"]},
        "then": {"properties": {"reason": {"type": "null"}}},
    }

    status = fields.String(required=True, validate=validate.OneOf((IN_PROGRESS, CANCELLED)))
    reason = Text(1, 500, load_default=None, allow_none=True)

    @validates_schema
    def reason_only_to_cancel(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["reason"] is not None and data["status"] != CANCELLED:
            raise ValidationError("only a cancellation takes a reason", field_name="reason")


class GameCancelSchema(Schema):
    reason = Text(1, 500, load_default=None, allow_none=True)


class GameMatchListSchema(Schema):
    status = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(MATCH_STATES)
    )
    limit = JSONInteger(load_default=25, validate=validate.Range(1, 100))
    # The previous page's ``pagination.cursor``; empty or null means the first page.
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(0, 100))


game_match_create_schema = GameMatchCreateSchema()
game_forfeit_schema = GameForfeitSchema()
game_status_schema = GameStatusSchema()
game_cancel_schema = GameCancelSchema()
game_match_list_schema = GameMatchListSchema()


# -- responses ----------------------------------------------------------------------------------

_STRINGS = {"type": "array", "items": {"type": "string"}}


class MatchStatusChangedSchema(Done):
    matchId = fields.String(required=True)  # noqa: N815
    previousStatus = fields.String(required=True, validate=validate.OneOf(MATCH_STATES))  # noqa: N815
    newStatus = fields.String(required=True, validate=validate.OneOf(MATCH_STATES))  # noqa: N815


class RostersSchema(Reply):
    creatorTeamId = fields.String(attribute="creator_team_id", required=True)  # noqa: N815
    acceptedTeamId = fields.String(  # noqa: N815
        attribute="accepted_team_id", required=True, allow_none=True
    )
    creatorRoster = fields.Function(  # noqa: N815
        lambda match: roster_of(match, match.creator_team_id), required=True, metadata=_STRINGS
    )
    acceptedRoster = fields.Function(  # noqa: N815
        lambda match: roster_of(match, match.accepted_team_id), required=True, metadata=_STRINGS
    )


class PaginationSchema(Schema):
    cursor = fields.String(required=True, allow_none=True)
    hasMore = fields.Boolean(required=True)  # noqa: N815


class GameMatchListOutSchema(Reply):
    matches = fields.List(fields.Nested(MatchOutSchema), required=True)
    count = fields.Integer(required=True)
    pagination = fields.Nested(PaginationSchema, required=True)


match_status_changed_schema = MatchStatusChangedSchema()
rosters_schema = RostersSchema()
game_match_list_out_schema = GameMatchListOutSchema()
