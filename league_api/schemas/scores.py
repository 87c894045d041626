"""Map score bodies (API.md 5.1 verified scores, 5.4 captain scores)."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from league_api.schemas import Done, JSONInteger, Reply, Text

# The longest series is best of 7; the match's own bestOf narrows this in the domain.
MAX_MAPS = 7
TEAM_ID = validate.Length(1, 100)


class MapScoreSchema(Schema):
    """One map's result; a map always has a winner, so the two scores differ."""

    map_index = JSONInteger(data_key="mapIndex", required=True, validate=validate.Range(min=0))
    map_id = Text(1, 100, data_key="mapId", required=True)
    creator_team_score = JSONInteger(
        data_key="creatorTeamScore", required=True, validate=validate.Range(0, 1000)
    )
    opponent_team_score = JSONInteger(
        data_key="opponentTeamScore", required=True, validate=validate.Range(0, 1000)
    )

    @validates_schema
    def scores_differ(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["creator_team_score"] == data["opponent_team_score"]:
            raise ValidationError(
                "must differ from creatorTeamScore (a map has a winner)",
                field_name="opponentTeamScore",
            )


class CaptainScoreSchema(MapScoreSchema):
    """A captain's submission; ``teamId`` only when the owner captains both teams."""

    team_id = fields.String(data_key="teamId", load_default=None, validate=TEAM_ID)


class CaptainConfirmSchema(Schema):
    map_index = JSONInteger(data_key="mapIndex", required=True, validate=validate.Range(min=0))
    team_id = fields.String(data_key="teamId", load_default=None, validate=TEAM_ID)


class GameScoresSchema(Schema):
    maps = fields.List(
        fields.Nested(MapScoreSchema),
        required=True,
        validate=validate.Length(1, MAX_MAPS),
    )

    @validates_schema
    def distinct_maps(self, data: dict[str, Any], **kwargs: Any) -> None:
        indexes = [item["map_index"] for item in data["maps"]]
        if len(set(indexes)) != len(indexes):
            raise ValidationError("each mapIndex may appear once", field_name="maps")


captain_score_schema = CaptainScoreSchema()
captain_confirm_schema = CaptainConfirmSchema()
game_scores_schema = GameScoresSchema()


# -- responses ----------------------------------------------------------------------------------

SCORE_STATES = ("PENDING", "CONFIRMED")


class MapScoreOutSchema(Schema):
    mapIndex = fields.Integer(attribute="map_index", required=True)  # noqa: N815
    mapId = fields.String(attribute="map_id", required=True)  # noqa: N815
    creatorTeamScore = fields.Integer(attribute="creator_team_score", required=True)  # noqa: N815
    opponentTeamScore = fields.Integer(attribute="opponent_team_score", required=True)  # noqa: N815
    scoreStatus = fields.String(  # noqa: N815
        attribute="status", required=True, validate=validate.OneOf(SCORE_STATES)
    )
    submittedBy = fields.String(attribute="submitted_by", required=True, allow_none=True)  # noqa: N815
    submittedByTeamId = fields.String(  # noqa: N815
        attribute="submitted_by_team_id", required=True, allow_none=True
    )
    confirmedBy = fields.String(attribute="confirmed_by", required=True, allow_none=True)  # noqa: N815


class SeriesScoreSchema(Schema):
    creatorMapWins = fields.Integer(required=True)  # noqa: N815
    opponentMapWins = fields.Integer(required=True)  # noqa: N815


class ScoresReadSchema(Reply):
    scores = fields.List(fields.Nested(MapScoreOutSchema), required=True)
    seriesScore = fields.Nested(SeriesScoreSchema, required=True)  # noqa: N815


class CaptainScoreDoneSchema(Done):
    action = fields.String(required=True, validate=validate.OneOf(("submitted", "confirmed")))
    mapIndex = fields.Integer(required=True)  # noqa: N815
    scoreStatus = fields.String(required=True, validate=validate.OneOf(SCORE_STATES))  # noqa: N815


class SubmittedMapSchema(Schema):
    mapIndex = fields.Integer(required=True)  # noqa: N815
    status = fields.String(required=True, validate=validate.OneOf(("confirmed", "failed")))
    error = fields.String(
        validate=validate.OneOf(
            ("error_score_already_submitted_by_game", "error_match_not_in_valid_state")
        )
    )


class GameScoresDoneSchema(Done):
    """``success`` is true only when every map was confirmed; ``count`` counts those."""

    submitted = fields.List(fields.Nested(SubmittedMapSchema), required=True)
    count = fields.Integer(required=True)


scores_read_schema = ScoresReadSchema()
captain_score_done_schema = CaptainScoreDoneSchema()
game_scores_done_schema = GameScoresDoneSchema()
