"""Map score bodies (API.md 5.1 verified scores, 5.4 captain scores)."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from league_api.schemas import JSONInteger, Text

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
