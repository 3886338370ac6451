#!/usr/bin/python3
"""envmerge.py — PATCH /stacks/:slug/env of seed 003, in Python over asyncpg:
merge a delta into a stack's env (a jsonb object; an empty value deletes its
key), 64 KiB cap, no change to a stack being torn down (examples/README.md).

  envmerge.py fixed   one transaction (#235 + #238): SET LOCAL lock_timeout,
                      SELECT status, env ... FOR UPDATE, refuse a deleting
                      stack under the lock, merge here, the cap before the
                      write, write, commit; the count counts real upserts
  envmerge.py rmw     before #235: the handler's status pre-read, an unlocked
                      env read, merge here, a blind overwrite (concurrent
                      merges lose each other's keys); count len(delta) - deletes
"""
import json
import os
import sys

sys.path.insert(1, os.path.join(sys.path[0], "..", "worker"))
from worker import Refused, int_env, run  # noqa: E402 (the path above finds it)

SLUG = "stack"
ENV_CAP = 64 * 1024  # bytes of the env as compact JSON


def delta():
    """Worker w's PATCH body: sets k<w>, deletes old<w> (present) and gone<w>
    (never present). Near the cap (every 5th iteration) values are big, so
    that about half of the merges fit."""
    w = int_env("PGRACE_WORKER")
    value = f"v{w}-"
    if int_env("PGRACE_ITERATION") % 5 == 0:
        value = value.ljust(min(ENV_CAP // (4 * int_env("PGRACE_WORKERS")), 2048), "x")
    return {f"k{w}": value, f"old{w}": "", f"gone{w}": ""}


def merge(env, d, honest):
    """Applies d to env and returns its counts: the keys set and the deleted
    keys that were present (honest), or len(d) - deletes as before #238."""
    set_, deleted = 0, 0
    for k, v in d.items():
        if v:
            env[k] = v
            set_ += 1
        elif env.pop(k, None) is not None:
            deleted += 1
    return f"set={set_ if honest else len(d) - deleted} deleted={deleted}"


async def read_env(db, sql, check_status):
    """Reads the stack's env with sql; refuses a stack that is gone (404) or,
    with check_status, being deleted (409)."""
    stack = await db.fetchrow(sql, SLUG)
    if stack is None:
        raise Refused(404, "stack not found")
    if check_status and stack["status"] == "deleting":
        raise Refused(409, "stack is being deleted")
    return json.loads(stack["env"])


async def write(db, env):
    """Checks the cap, then overwrites the env."""
    text = json.dumps(env, separators=(",", ":"))
    if len(text.encode()) > ENV_CAP:
        raise Refused(413, "env too large")
    if await db.execute("UPDATE stacks SET env = $2 WHERE slug = $1", SLUG, text) == "UPDATE 0":
        raise Refused(404, "stack not found")


async def merge_fixed(db):
    # The block commits on the way out: the counts are answered only once
    # COMMIT succeeded.
    async with db.transaction():
        # First: a merge queued behind a long-held row lock fails fast (503).
        await db.execute("SET LOCAL lock_timeout = '3s'")
        env = await read_env(db, "SELECT status, env FROM stacks WHERE slug = $1 FOR UPDATE", True)
        counts = merge(env, delta(), honest=True)
        await write(db, env)
    return counts


async def merge_rmw(db):
    status = await db.fetchval("SELECT status FROM stacks WHERE slug = $1", SLUG)
    if status is None:
        raise Refused(404, "stack not found")
    if status == "deleting":
        raise Refused(409, "stack is being deleted")
    env = await read_env(db, "SELECT status, env FROM stacks WHERE slug = $1", False)
    counts = merge(env, delta(), honest=False)
    await write(db, env)
    return counts


run("envmerge.py", 503, {"fixed": merge_fixed, "rmw": merge_rmw})
