"""League operator bodies (API.md 5.2): seasons and league tickets."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from league_api.schemas import Done, EpochMillis, Reply, StrictBoolean, Text, Time
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


# -- responses ----------------------------------------------------------------------------------

TICKET_STATES = ("open", "closed")


class SeasonOutSchema(Schema):
    id = fields.String(required=True)
    leagueId = fields.String(attribute="league_id", required=True)  # noqa: N815
    gameId = fields.String(attribute="game_id", required=True)  # noqa: N815
    name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(SEASON_STATES))
    startDate = Time(attribute="start_date", required=True)  # noqa: N815
    endDate = Time(attribute="end_date", required=True)  # noqa: N815
    createdAt = Time(attribute="created_at", required=True)  # noqa: N815


class LeagueTicketMessageOutSchema(Schema):
    id = fields.String(required=True)
    content = fields.String(required=True)
    isInternal = fields.Boolean(attribute="is_internal", required=True)  # noqa: N815
    authorUserId = fields.String(attribute="author_id", required=True)  # noqa: N815
    createdAt = Time(attribute="created_at", required=True)  # noqa: N815


class LeagueTicketOutSchema(Schema):
    id = fields.String(required=True)
    leagueId = fields.String(attribute="league_id", required=True)  # noqa: N815
    authorUserId = fields.String(attribute="author_id", required=True)  # noqa: N815
    subject = fields.String(required=True)
    description = fields.String(required=True)
    priority = fields.String(required=True, validate=validate.OneOf(TICKET_PRIORITIES))
    status = fields.String(required=True, validate=validate.OneOf(TICKET_STATES))
    createdAt = Time(attribute="created_at", required=True)  # noqa: N815
    updatedAt = Time(attribute="updated_at", required=True)  # noqa: N815
    messages = fields.List(fields.Nested(LeagueTicketMessageOutSchema), required=True)


class SeasonCreatedSchema(Done):
    seasonId = fields.String(required=True)  # noqa: N815


class SeasonChangedSchema(Done):
    seasonId = fields.String(required=True)  # noqa: N815
    status = fields.String(required=True, validate=validate.OneOf(SEASON_STATES))


class SeasonReadSchema(Reply):
    season = fields.Nested(SeasonOutSchema, required=True)


class SeasonListOutSchema(Reply):
    seasons = fields.List(fields.Nested(SeasonOutSchema), required=True)
    count = fields.Integer(required=True)


class LeagueTicketCreatedSchema(Done):
    ticketId = fields.String(required=True)  # noqa: N815


class LeagueTicketRepliedSchema(Done):
    messageId = fields.String(required=True)  # noqa: N815


class LeagueTicketReadSchema(Reply):
    ticket = fields.Nested(LeagueTicketOutSchema, required=True)


season_created_schema = SeasonCreatedSchema()
season_changed_schema = SeasonChangedSchema()
season_read_schema = SeasonReadSchema()
season_list_out_schema = SeasonListOutSchema()
league_ticket_created_schema = LeagueTicketCreatedSchema()
league_ticket_replied_schema = LeagueTicketRepliedSchema()
league_ticket_read_schema = LeagueTicketReadSchema()
