"""Webhook subscription bodies and answers."""

from marshmallow import EXCLUDE, Schema, fields, validate

from league_api.schemas import Done, QueryInteger, Reply, Text, Time
from league_api.webhooks.events import EVENT_TYPES
from league_api.webhooks.urls import MAX_URL_LENGTH

EVENT_NAMES = tuple(EVENT_TYPES)
URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://"
ATTEMPT_STATES = ("succeeded", "failed", "in_flight", "abandoned")
DELIVERY_STATES = ("pending", "succeeded", "failed", "cancelled")


class WebhookCreateSchema(Schema):
    # The scheme is the part a schema can state (the server checks it too, with the rest of
    # the URL rule: a host resolving only to global addresses, error_webhook_url_not_allowed).
    url = Text(1, MAX_URL_LENGTH, required=True, metadata={"pattern": URL_PATTERN})
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_NAMES)),
        required=True,
        validate=validate.Length(1, len(EVENT_NAMES)),
    )
    description = Text(0, 500, load_default=None, allow_none=True)


class DeliveriesQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = QueryInteger(load_default=25, validate=validate.Range(1, 100))


webhook_create_schema = WebhookCreateSchema()
deliveries_query_schema = DeliveriesQuerySchema()


# -- responses ----------------------------------------------------------------------------------


class WebhookOutSchema(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_NAMES)), required=True)
    description = fields.String(required=True, allow_none=True)
    active = fields.Function(lambda sub: sub.disabled_at is None, required=True)
    disabledReason = fields.String(  # noqa: N815
        attribute="disabled_reason", required=True, allow_none=True
    )
    previousSecretExpiresAt = Time(  # noqa: N815
        attribute="previous_secret_expires_at", required=True, allow_none=True
    )
    createdAt = Time(attribute="created_at", required=True)  # noqa: N815


class WebhookCreatedSchema(Done):
    webhookId = fields.String(required=True)  # noqa: N815
    secret = fields.String(
        required=True, metadata={"description": "whsec_ + base64; shown only in this answer"}
    )


class WebhookRotatedSchema(Done):
    webhookId = fields.String(required=True)  # noqa: N815
    secret = fields.String(required=True)
    previousSecretExpiresAt = Time(required=True)  # noqa: N815


class WebhookDeletedSchema(Done):
    webhookId = fields.String(required=True)  # noqa: N815


class WebhookListSchema(Reply):
    webhooks = fields.List(fields.Nested(WebhookOutSchema), required=True)


class WebhookReadSchema(Reply):
    webhook = fields.Nested(WebhookOutSchema, required=True)


class AttemptOutSchema(Schema):
    webhookId = fields.String(required=True)  # noqa: N815
    eventType = fields.String(required=True)  # noqa: N815
    attempt = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ATTEMPT_STATES))
    statusCode = fields.Integer(required=True, allow_none=True)  # noqa: N815
    durationMs = fields.Integer(required=True, allow_none=True)  # noqa: N815
    error = fields.String(required=True, allow_none=True)
    deliveryStatus = fields.String(  # noqa: N815
        required=True, validate=validate.OneOf(DELIVERY_STATES)
    )
    startedAt = Time(required=True)  # noqa: N815


class DeliveriesSchema(Reply):
    webhookId = fields.String(required=True)  # noqa: N815
    attempts = fields.List(fields.Nested(AttemptOutSchema), required=True)


webhook_created_schema = WebhookCreatedSchema()
webhook_rotated_schema = WebhookRotatedSchema()
webhook_deleted_schema = WebhookDeletedSchema()
webhook_list_schema = WebhookListSchema()
webhook_read_schema = WebhookReadSchema()
deliveries_schema = DeliveriesSchema()
