"""Match chat bodies (API.md 5.5)."""

from marshmallow import Schema, fields, validate

from league_api.schemas import Done, Reply, Text, Time


class ChatSendSchema(Schema):
    content = Text(1, 255, required=True)
    # Needed only by a player on both teams of the match, to say which side speaks.
    team_id = fields.String(
        data_key="teamId", load_default=None, allow_none=True, validate=validate.Length(1, 100)
    )


class ChatReportSchema(Schema):
    reason = Text(0, 500, load_default=None, allow_none=True)


chat_send_schema = ChatSendSchema()
chat_report_schema = ChatReportSchema()


# -- responses ----------------------------------------------------------------------------------


class ChatMessageOutSchema(Schema):
    id = fields.String(required=True)
    content = fields.String(required=True)
    senderUserId = fields.String(attribute="sender_user_id", required=True)  # noqa: N815
    teamId = fields.String(attribute="team_id", required=True)  # noqa: N815
    createdAt = Time(attribute="created_at", required=True)  # noqa: N815


class ChatReportOutSchema(Schema):
    id = fields.String(required=True)
    messageId = fields.String(attribute="message_id", required=True)  # noqa: N815
    reason = fields.String(required=True, allow_none=True)
    createdAt = Time(attribute="created_at", required=True)  # noqa: N815


class ChatSentSchema(Done):
    messageId = fields.String(required=True)  # noqa: N815


class ChatReportedSchema(Done):
    reportId = fields.String(required=True)  # noqa: N815
    alreadyReported = fields.Boolean(required=True)  # noqa: N815


class ChatListSchema(Reply):
    messages = fields.List(fields.Nested(ChatMessageOutSchema), required=True)


class ChatMessageReadSchema(Reply):
    message = fields.Nested(ChatMessageOutSchema, required=True)


class ChatReportReadSchema(Reply):
    report = fields.Nested(ChatReportOutSchema, required=True)


chat_sent_schema = ChatSentSchema()
chat_reported_schema = ChatReportedSchema()
chat_list_schema = ChatListSchema()
chat_message_read_schema = ChatMessageReadSchema()
chat_report_read_schema = ChatReportReadSchema()
