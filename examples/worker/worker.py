"""worker.py — the Python programs' side of pgrace exec's worker contract
(examples/README.md): the form from the first argument, a connection from the
standard environment, one call, its answer as the last line of stdout, exit 0
once answered — 1 when the program could not connect (the exception
escapes), 2 for a form it does not know."""
import asyncio
import os
import sys

import asyncpg


class Refused(Exception):
    """An answer other than 200 that the operation gives on purpose (409
    already verified, 404 not found, ...)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def int_env(name):
    """The environment variable name as a number."""
    return int(os.environ[name])


async def _answer(op, db_status):
    # asyncpg reads the PG* variables; DATABASE_URL, when set, wins.
    db = await asyncpg.connect(os.environ.get("DATABASE_URL"))
    try:
        return f"200 {await op(db)}"
    except Refused as r:
        return f"{r.status} {r}"
    except asyncpg.PostgresError as e:
        # A lost connection is one too (08003), with no server message.
        return f"{db_status} {e.sqlstate} {e.message or e}"
    except (asyncpg.InterfaceError, OSError) as e:
        return f"{db_status} {e}"
    finally:
        try:
            await db.close()
        except (asyncpg.InterfaceError, OSError):
            db.terminate()


def run(name, db_status, forms):
    """Runs the form the first argument names once and prints its answer:
    forms maps each form to a coroutine function of the connection that
    returns the body of its 200 answer. A database or connection error
    answers db_status, with the SQLSTATE when there is one."""
    op = forms.get(sys.argv[1]) if len(sys.argv) == 2 else None
    if op is None:
        print(f"usage: {name} {'|'.join(sorted(forms))}", file=sys.stderr)
        sys.exit(2)
    print(asyncio.run(_answer(op, db_status)))
