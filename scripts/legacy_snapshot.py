"""Write the legacy.json snapshots (league_api, its idempotency layer): 0.1.0's create_all schema.

Run once per snapshot, from the repository root, with two checkouts of 0.1.0's package
(``git archive <commit> league_api | tar -x -C DIR``): the release, and the commit before the
record id became BIGINT (781408e^)::

    python scripts/legacy_snapshot.py RELEASE_DIR EARLY_DIR SQLITE_DIR POSTGRES_URL

The databases are created by 0.1.0's own code in a subprocess; the dump is today's
``schema_dump`` (what ``legacy_revisions`` compares against). The PostgreSQL database is
emptied first: give it a throwaway one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

CREATE = "from league_api import create_app; create_app({'SQLALCHEMY_DATABASE_URI': %r})"


def make(code_dir: str, url: str) -> dict:
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    env = {**os.environ, "PYTHONPATH": code_dir}
    subprocess.run([sys.executable, "-c", CREATE % url], env=env, check=True, cwd=code_dir)
    from league_api.idempotency.migrating import schema_dump
    from league_api.migrations import owned_tables

    engine = create_engine(url)
    with engine.connect() as connection:
        dump = schema_dump(connection, owned_tables())
    engine.dispose()
    return dump


def main(release: str, early: str, sqlite_dir: str, postgres_url: str) -> None:
    sqlite_url = f"sqlite:///{Path(sqlite_dir).resolve() / 'legacy.sqlite'}"
    Path(sqlite_dir, "legacy.sqlite").unlink(missing_ok=True)
    snapshots = {
        "sqlite": {"0.1.0-bigint": make(release, sqlite_url)},
        "postgresql": {
            "0.1.0-bigint": make(release, postgres_url),
            "0.1.0-integer": make(early, postgres_url),
        },
    }
    Path(sqlite_dir, "legacy.sqlite").unlink(missing_ok=True)
    early_sqlite = make(early, sqlite_url)
    # SQLite's rowid is INTEGER either way: both 0.1.0 variants are one schema there.
    assert early_sqlite == snapshots["sqlite"]["0.1.0-bigint"]
    package = Path(__file__).resolve().parents[1] / "league_api"
    write(package / "migrations" / "legacy.json", snapshots)
    # The idempotency layer's own tree checks its record table alone.
    records = "idempotency_records"
    write(
        package / "idempotency" / "migrations" / "legacy.json",
        {
            dialect: {
                variant: {
                    "tables": {records: dump["tables"][records]},
                    **(
                        {"sequences": {f"{records}_id_seq": dump["sequences"][f"{records}_id_seq"]}}
                        if "sequences" in dump
                        else {}
                    ),
                }
                for variant, dump in variants.items()
            }
            for dialect, variants in snapshots.items()
        },
    )


def write(target: Path, snapshots: dict) -> None:
    target.write_text(json.dumps(snapshots, indent=1, sort_keys=True) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(*sys.argv[1:])
