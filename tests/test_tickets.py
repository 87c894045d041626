"""Support tickets (API.md 5.6) through the test client."""

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


def test_create_ticket_answers_201_with_location(api):
    response = api.post("/tickets", "alice", TICKET)
    assert response.status_code == 201
    body = response.get_json()
    assert body["success"] is True and body["ticketNumber"] == 1
    assert response.headers["Location"] == f"/api/v1/tickets/{body['ticketId']}"


def test_ticket_numbers_are_sequential_across_users(api):
    numbers = [
        api.post("/tickets", who, TICKET).get_json()["ticketNumber"]
        for who in ("alice", "bob", "alice")
    ]
    assert numbers == [1, 2, 3]


def test_keyed_retry_replays(api):
    first = api.post("/tickets", "alice", TICKET, key="t-1")
    again = api.post("/tickets", "alice", TICKET, key="t-1")
    assert again.status_code == 201
    assert again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert len(api.get("/tickets", "alice").get_json()["tickets"]) == 1


def test_other_users_ticket_is_not_found(api):
    ticket_id = api.post("/tickets", "alice", TICKET).get_json()["ticketId"]
    assert api.get(f"/tickets/{ticket_id}", "bob").get_json()["error"] == "error_ticket_not_found"
    response = api.post(f"/tickets/{ticket_id}/messages", "bob", {"content": "hi"})
    assert response.status_code == 404


def test_messages_and_close(api):
    ticket_id = api.post("/tickets", "alice", TICKET).get_json()["ticketId"]
    assert (
        api.post(f"/tickets/{ticket_id}/messages", "alice", {"content": "more"}).status_code == 200
    )
    closed = api.post(f"/tickets/{ticket_id}/close", "alice")
    assert closed.get_json()["status"] == "closed"
    again = api.post(f"/tickets/{ticket_id}/close", "alice")
    assert (again.status_code, again.get_json()["error"]) == (409, "error_ticket_closed")
    late = api.post(f"/tickets/{ticket_id}/messages", "alice", {"content": "late"})
    assert (late.status_code, late.get_json()["error"]) == (409, "error_ticket_closed")
    ticket = api.get(f"/tickets/{ticket_id}", "alice").get_json()["ticket"]
    assert [m["content"] for m in ticket["messages"]] == ["more"]


def test_list_paginates_newest_first(api):
    for _ in range(3):
        api.post("/tickets", "alice", TICKET)
    page = api.get("/tickets?limit=2", "alice").get_json()
    assert [t["ticketNumber"] for t in page["tickets"]] == [3, 2] and page["hasMore"]
    rest = api.get(f"/tickets?limit=2&cursor={page['nextCursor']}", "alice").get_json()
    assert [t["ticketNumber"] for t in rest["tickets"]] == [1] and not rest["hasMore"]


def test_a_cursor_beyond_any_ticket_number_is_the_first_page(api):
    """The document allows 15 digits; past the 32-bit column that means "from the newest"
    (PostgreSQL refused to bind it: a 400 schemathesis found)."""
    for _ in range(2):
        api.post("/tickets", "alice", TICKET)
    for cursor in ("2147483647", "2147483648", "999999999999999"):
        page = api.get(f"/tickets?cursor={cursor}", "alice")
        assert page.status_code == 200, page.get_json()
        assert [t["ticketNumber"] for t in page.get_json()["tickets"]] == [2, 1]
