"""League operator bodies (API.md 5.2): seasons and league tickets."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from league_api.schemas import EpochMillis, StrictBoolean, Text
from league_api.states import SEASON_STATES

TICKET_PRIORITIES = ("low", "medium", "high", "urgent")

# Epoch milliseconds from 1970 up to the last millisecond of year 9999: every value in
# this range converts to a datetime that both databases store.


class SeasonCreateSchema(Schema):
    game_id = fields.String(data_key="gameId", required=True, validate=validate.Length(1, 100))
    name = Text(1, 100, required=True)
    start_date = EpochMillis(data_key="startDate", required=True)
    end_date = EpochMillis(data_key="endDate", required=True)

    @validates_schema
    def dates_in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        # Runs only when both dates passed their own checks (skip_on_field_errors).
        if data["start_date"] >= data["end_date"]:
            raise ValidationError("must be after startDate", field_name="endDate")


class SeasonListSchema(Schema):
    game_id = fields.String(data_key="gameId", load_default=None, validate=validate.Length(1, 100))
    status = fields.String(load_default=None, validate=validate.OneOf(SEASON_STATES))


class LeagueTicketCreateSchema(Schema):
    subject = Text(1, 200, required=True)
    description = Text(1, 2000, required=True)
    priority = fields.String(load_default="medium", validate=validate.OneOf(TICKET_PRIORITIES))


class LeagueTicketReplySchema(Schema):
    content = Text(1, 2000, required=True)
    is_internal = StrictBoolean(data_key="isInternal", load_default=False)


season_create_schema = SeasonCreateSchema()
season_list_schema = SeasonListSchema()
league_ticket_create_schema = LeagueTicketCreateSchema()
league_ticket_reply_schema = LeagueTicketReplySchema()
