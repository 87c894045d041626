"""Support ticket bodies (API.md 5.6)."""

from marshmallow import EXCLUDE, Schema, fields, validate

from league_api.schemas import Done, QueryInteger, Reply, Text, Time

TICKET_CATEGORIES = ("account", "technical_bug", "feature_request", "billing", "other")
TICKET_STATES = ("open", "closed")
# A cursor is the last ticket number seen; empty means the first page.
CURSOR = r"^[0-9]{0,15}$"


class TicketCreateSchema(Schema):
    subject = Text(1, 150, required=True)
    description = Text(1, 2000, required=True)
    category = fields.String(required=True, validate=validate.OneOf(TICKET_CATEGORIES))


class TicketMessageSchema(Schema):
    content = Text(1, 2000, required=True)


class TicketListQuerySchema(Schema):
    class Meta:
        # A read ignores query parameters it does not know, as every other read does.
        unknown = EXCLUDE

    limit = QueryInteger(load_default=25, validate=validate.Range(1, 100))
    cursor = fields.String(load_default="", validate=validate.Regexp(CURSOR))


ticket_create_schema = TicketCreateSchema()
ticket_message_schema = TicketMessageSchema()
ticket_list_query_schema = TicketListQuerySchema()


# -- responses ----------------------------------------------------------------------------------


class TicketMessageOutSchema(Schema):
    id = fields.String(required=True)
    content = fields.String(required=True)
    authorUserId = fields.String(attribute="author_id", required=True)  # noqa: N815
    createdAt = Time(attribute="created_at", required=True)  # noqa: N815


class TicketOutSchema(Schema):
    id = fields.String(required=True)
    ticketNumber = fields.Integer(attribute="ticket_number", required=True)  # noqa: N815
    subject = fields.String(required=True)
    description = fields.String(required=True)
    category = fields.String(required=True, validate=validate.OneOf(TICKET_CATEGORIES))
    status = fields.String(required=True, validate=validate.OneOf(TICKET_STATES))
    createdAt = Time(attribute="created_at", required=True)  # noqa: N815
    updatedAt = Time(attribute="updated_at", required=True)  # noqa: N815


class TicketWithMessagesSchema(TicketOutSchema):
    messages = fields.List(fields.Nested(TicketMessageOutSchema), required=True)


class TicketCreatedSchema(Done):
    ticketId = fields.String(required=True)  # noqa: N815
    ticketNumber = fields.Integer(required=True)  # noqa: N815


class TicketMessageAddedSchema(Done):
    messageId = fields.String(required=True)  # noqa: N815


class TicketClosedSchema(Done):
    ticketId = fields.String(required=True)  # noqa: N815
    status = fields.String(required=True, validate=validate.OneOf(("closed",)))


class TicketListSchema(Reply):
    tickets = fields.List(fields.Nested(TicketOutSchema), required=True)
    nextCursor = fields.String(required=True, allow_none=True)  # noqa: N815
    hasMore = fields.Boolean(required=True)  # noqa: N815


class TicketReadSchema(Reply):
    ticket = fields.Nested(TicketWithMessagesSchema, required=True)


ticket_created_schema = TicketCreatedSchema()
ticket_message_added_schema = TicketMessageAddedSchema()
ticket_closed_schema = TicketClosedSchema()
ticket_list_schema = TicketListSchema()
ticket_read_schema = TicketReadSchema()
