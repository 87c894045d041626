"""Match chat bodies (API.md 5.5)."""

from marshmallow import Schema, fields, validate

from league_api.schemas import Text


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
