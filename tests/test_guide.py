"""docs/API.md's `sh` blocks, run with curl against a live gunicorn server on the demo world.

The first `sh` block of the guide is its setup (base URL, helpers); every other block runs after
it in a fresh `sh` under ``set -eu``, as a reader would run it, and must exit 0 and print the end
state its flow promises.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LiveServer

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "API.md"
_BLOCK = re.compile(r"^```sh\n(.*?)^```\n", re.S | re.M)
_HEADING = re.compile(r"^#{2,3} (.+)$", re.M)

# The end state each section's block must print (whole lines, matched as regular expressions).
END_STATES = {
    "3. Errors": [r'\{"error":"error_api_key_required",.*'],
    "5. Idempotency": [r"Idempotent-Replayed: true", r"409 error_idempotency_key_conflict"],
    "8.1 Game developer: a match from creation to result": [
        r"game match: COMPLETED",
        r"forfeited match: FORFEITED",
    ],
    "8.2 League operator: a season, and a league ticket": [
        r"season: COMPLETED",
        r"league ticket: open",
    ],
    "8.3 Players: a personal match with captain scores": [r"personal match: COMPLETED"],
    "8.4 Chat: talking in a match, reporting a message": [r"reported again: true"],
    "8.5 Support tickets: open, talk, page through, close": [
        r"pages of tickets: 2",
        r"ticket: closed",
        r'\{"error":"error_ticket_closed",.*',
    ],
}


def guide_blocks() -> list[tuple[str, str]]:
    """(heading of the section it sits in, script) for every `sh` block, in order."""
    text = GUIDE.read_text()
    headings = [(match.start(), match.group(1)) for match in _HEADING.finditer(text)]
    blocks = []
    for match in _BLOCK.finditer(text):
        heading = [title for start, title in headings if start < match.start()][-1]
        blocks.append((heading, match.group(1)))
    return blocks


SETUP, *FLOWS = guide_blocks()


def test_the_guide_has_its_setup_and_every_flow_block():
    assert SETUP[0] == "1. Before you start"
    assert [heading for heading, _ in FLOWS] == list(END_STATES)


@pytest.fixture(scope="module")
def guide_server(tmp_path_factory, league_postgres):
    """A real server on a fresh database, seeded by the guide's own demo-seed command."""
    if shutil.which("curl") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the guide: install the Debian package curl")
        pytest.skip("the guide's blocks need curl")
    workdir = tmp_path_factory.mktemp("guide")
    if league_postgres is not None:  # the session's throwaway database (league_api.testing)
        league_postgres.empty()
        database_url = league_postgres.url
    else:
        database_url = f"sqlite:///{workdir / 'league.sqlite'}"
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": database_url}
    seeded = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "league_api", "demo-seed"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    (workdir / "demo.json").write_text(seeded.stdout)
    server = LiveServer(database_url, 2, workdir / "gunicorn.log", {})
    yield server, workdir
    server.stop()


@pytest.mark.parametrize(
    ("heading", "script"), FLOWS, ids=[heading.split(" ")[0] for heading, _ in FLOWS]
)
def test_each_guide_block_runs_and_reaches_its_end_state(guide_server, heading, script):
    server, workdir = guide_server
    env = {
        **os.environ,
        "BASE": server.url,
        "DEMO": str(workdir / "demo.json"),
        # The guide's helpers call python3: the one running the tests will do.
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    }
    result = subprocess.run(
        ["sh", "-c", "set -eu\n" + SETUP[1] + script],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = f"{heading}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, report
    lines = result.stdout.splitlines()
    for end_state in END_STATES[heading]:
        assert any(re.fullmatch(end_state, line) for line in lines), (end_state, report)
