"""Personal match bodies (API.md 5.3)."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from league_api.schemas import BEST_OF, Done, EpochMillis, JSONInteger, Reply, Text, Time
from league_api.states import MATCH_STATES

ATTENDANCE = ("ATTENDING", "NOT_ATTENDING", "TENTATIVE")
_STRINGS = {"type": "array", "items": {"type": "string"}}
MAX_TEAM_SIZE = 10
# Epoch milliseconds from 1970 up to the last millisecond of year 9999 (both databases store it).


def _id(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(1, 100), **kwargs)


def _roster(**kwargs: Any) -> fields.List:
    # Distinct players (checked by _distinct), as the document's uniqueItems says.
    return fields.List(
        _id(), validate=validate.Length(1, MAX_TEAM_SIZE), metadata={"uniqueItems": True}, **kwargs
    )


def _distinct(roster: list[str]) -> None:
    # A player named twice would count twice towards teamSize.
    if len(set(roster)) != len(roster):
        raise ValidationError("names a player more than once", field_name="activeRoster")


class MatchCreateSchema(Schema):
    team_id = _id(data_key="teamId", required=True)
    game_id = _id(data_key="gameId", required=True)
    game_mode_id = _id(data_key="gameModeId", required=True)
    team_size = JSONInteger(
        data_key="teamSize", required=True, validate=validate.Range(1, MAX_TEAM_SIZE)
    )
    best_of = JSONInteger(data_key="bestOf", required=True, validate=validate.OneOf(BEST_OF))
    active_roster = _roster(data_key="activeRoster", required=True)
    challenged_team_id = _id(data_key="challengedTeamId", load_default=None, allow_none=True)
    scheduled_at = EpochMillis(data_key="scheduledAt", load_default=None, allow_none=True)
    notes = Text(0, 1000, load_default=None, allow_none=True)

    @validates_schema
    def roster_fits(self, data: dict[str, Any], **kwargs: Any) -> None:
        # Runs only when every field passed its own checks (skip_on_field_errors).
        _distinct(data["active_roster"])
        if len(data["active_roster"]) > data["team_size"]:
            raise ValidationError("holds more players than teamSize", field_name="activeRoster")


class MatchAcceptSchema(Schema):
    team_id = _id(data_key="teamId", required=True)
    active_roster = _roster(data_key="activeRoster", required=True)

    @validates_schema
    def roster_distinct(self, data: dict[str, Any], **kwargs: Any) -> None:
        _distinct(data["active_roster"])


class ActingTeamSchema(Schema):
    """``teamId`` is needed only when the owner captains both teams of the match."""

    team_id = _id(data_key="teamId", load_default=None, allow_none=True)


class LobbyCodeSchema(ActingTeamSchema):
    lobby_code = Text(1, 50, data_key="lobbyCode", required=True)


class EndMatchSchema(ActingTeamSchema):
    reason = Text(0, 500, load_default=None, allow_none=True)


class AttendanceSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(ATTENDANCE))


match_create_schema = MatchCreateSchema()
match_accept_schema = MatchAcceptSchema()
acting_team_schema = ActingTeamSchema()
lobby_code_schema = LobbyCodeSchema()
end_match_schema = EndMatchSchema()
attendance_schema = AttendanceSchema()


# -- responses ----------------------------------------------------------------------------------


def roster_of(match: Any, team_id: str | None) -> list[str]:
    return [entry.user_id for entry in match.roster if team_id and entry.team_id == team_id]


class MatchOutSchema(Schema):
    """What a client needs to follow a match."""

    id = fields.String(required=True)
    gameId = fields.String(attribute="game_id", required=True)  # noqa: N815
    status = fields.String(required=True, validate=validate.OneOf(MATCH_STATES))
    creatorTeamId = fields.String(attribute="creator_team_id", required=True)  # noqa: N815
    acceptedTeamId = fields.String(  # noqa: N815
        attribute="accepted_team_id", required=True, allow_none=True
    )
    challengedTeamId = fields.String(  # noqa: N815
        attribute="challenged_team_id", required=True, allow_none=True
    )
    createdByGame = fields.Boolean(attribute="created_by_game", required=True)  # noqa: N815
    gameModeId = fields.String(attribute="game_mode_id", required=True)  # noqa: N815
    teamSize = fields.Integer(attribute="team_size", required=True)  # noqa: N815
    bestOf = fields.Integer(attribute="best_of", required=True)  # noqa: N815
    region = fields.String(required=True, allow_none=True)
    platform = fields.String(required=True, allow_none=True)
    scheduledAt = Time(attribute="scheduled_at", required=True, allow_none=True)  # noqa: N815
    selectedMaps = fields.Function(  # noqa: N815
        lambda match: match.selected_maps or [], required=True, metadata=_STRINGS
    )
    notes = fields.String(required=True, allow_none=True)
    creatorRoster = fields.Function(  # noqa: N815
        lambda match: roster_of(match, match.creator_team_id), required=True, metadata=_STRINGS
    )
    acceptedRoster = fields.Function(  # noqa: N815
        lambda match: roster_of(match, match.accepted_team_id), required=True, metadata=_STRINGS
    )
    readiness = fields.Function(
        lambda match: {"creator": match.creator_ready, "accepted": match.accepted_ready},
        required=True,
        metadata={
            "type": "object",
            "properties": {"creator": {"type": "boolean"}, "accepted": {"type": "boolean"}},
            "required": ["creator", "accepted"],
            "additionalProperties": False,
            "example": {"creator": True, "accepted": False},
        },
    )
    attendance = fields.Function(
        lambda match: {entry.user_id: entry.attendance for entry in match.roster},
        required=True,
        metadata={
            "type": "object",
            "description": "each rostered player's answer (null until given), by user id",
            "additionalProperties": {"enum": [*ATTENDANCE, None]},
        },
    )
    lobbyCode = fields.String(attribute="lobby_code", required=True, allow_none=True)  # noqa: N815
    winnerTeamId = fields.String(  # noqa: N815
        attribute="winner_team_id", required=True, allow_none=True
    )
    forfeitedByTeamId = fields.String(  # noqa: N815
        attribute="forfeited_by_team_id", required=True, allow_none=True
    )
    createdAt = Time(attribute="created_at", required=True)  # noqa: N815
    updatedAt = Time(attribute="updated_at", required=True)  # noqa: N815
    startedAt = Time(attribute="started_at", required=True, allow_none=True)  # noqa: N815
    endedAt = Time(attribute="ended_at", required=True, allow_none=True)  # noqa: N815


class MatchReadSchema(Reply):
    match = fields.Nested(MatchOutSchema, required=True)


class MatchCreatedSchema(Done):
    matchId = fields.String(required=True)  # noqa: N815


class MatchStatusSchema(Done):
    matchId = fields.String(required=True)  # noqa: N815
    status = fields.String(required=True, validate=validate.OneOf(MATCH_STATES))


class MatchReadySchema(Done):
    matchReady = fields.Boolean(required=True)  # noqa: N815


class LobbyCodeSetSchema(Done):
    lobbyCode = fields.String(required=True)  # noqa: N815


class ForfeitedSchema(Done):
    matchId = fields.String(required=True)  # noqa: N815
    forfeitedByTeamId = fields.String(required=True)  # noqa: N815


class AttendanceSetSchema(Done):
    status = fields.String(required=True, validate=validate.OneOf(ATTENDANCE))


match_read_schema = MatchReadSchema()
match_created_schema = MatchCreatedSchema()
match_status_schema = MatchStatusSchema()
match_ready_schema = MatchReadySchema()
lobby_code_set_schema = LobbyCodeSetSchema()
forfeited_schema = ForfeitedSchema()
attendance_set_schema = AttendanceSetSchema()
