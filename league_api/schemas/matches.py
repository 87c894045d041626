"""Personal match bodies (API.md 5.3)."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from league_api.schemas import BEST_OF, EpochMillis, JSONInteger, Text

ATTENDANCE = ("ATTENDING", "NOT_ATTENDING", "TENTATIVE")
MAX_TEAM_SIZE = 10
# Epoch milliseconds from 1970 up to the last millisecond of year 9999 (both databases store it).


def _id(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(1, 100), **kwargs)


def _roster(**kwargs: Any) -> fields.List:
    return fields.List(_id(), validate=validate.Length(1, MAX_TEAM_SIZE), **kwargs)


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
