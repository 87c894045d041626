"""cProfile of POST /api/v1/tickets through the test client: unkeyed, keyed first, replay.

    .venv/bin/python bench/profiling.py [--requests 2000] [--top 25] [--sort tottime]

SQLite (synchronous=NORMAL) in a temporary directory; the app as production builds it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BODY, PATH, make_app, make_backends, seed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--filter", default="", help="only lines matching this regex")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="league-profile-"))
    (backend,) = make_backends(["sqlite-normal"], workdir, None)
    app = make_app(backend, RATELIMIT_ENABLED=False)
    keys = seed(app)["keys"]
    client = app.test_client()
    auth = {"Authorization": f"Bearer {keys['alice']}", "Content-Type": "application/json"}

    def unkeyed(_n: int) -> None:
        client.post(PATH, data=BODY, headers=auth)

    def first(n: int) -> None:
        client.post(PATH, data=BODY, headers={**auth, "Idempotency-Key": f"first-{n}"})

    def replay(_n: int) -> None:
        client.post(PATH, data=BODY, headers={**auth, "Idempotency-Key": "replayed"})

    replay(0)
    for name, call in (("unkeyed", unkeyed), ("keyed first", first), ("replay", replay)):
        for n in range(50):
            call(-n - 1)
        profile = cProfile.Profile()
        profile.enable()
        for n in range(options.requests):
            call(n)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats(options.sort)
        if options.filter:
            stats.print_stats(options.filter, options.top)
        else:
            stats.print_stats(options.top)
        print(f"## {name}: {options.requests} requests")
        print(out.getvalue())


if __name__ == "__main__":
    main()
