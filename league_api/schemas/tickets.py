"""Support ticket bodies (API.md 5.6)."""

from marshmallow import Schema, fields, validate

from league_api.schemas import Text

TICKET_CATEGORIES = ("account", "technical_bug", "feature_request", "billing", "other")


class TicketCreateSchema(Schema):
    subject = Text(1, 150, required=True)
    description = Text(1, 2000, required=True)
    category = fields.String(required=True, validate=validate.OneOf(TICKET_CATEGORIES))


class TicketMessageSchema(Schema):
    content = Text(1, 2000, required=True)


class TicketListQuerySchema(Schema):
    limit = fields.Integer(load_default=25, validate=validate.Range(1, 100))
    cursor = fields.String(load_default=None)


ticket_create_schema = TicketCreateSchema()
ticket_message_schema = TicketMessageSchema()
ticket_list_query_schema = TicketListQuerySchema()
