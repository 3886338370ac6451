# asyncpg_cases.py — the driver table's cases for asyncpg (t/clients/README.md).
import asyncio
import os

import asyncpg


async def connect():
    return await asyncpg.connect(host=os.environ["PGHOST"], port=int(os.environ["PGPORT"]),
                                 user=os.environ["PGUSER"], database=os.environ["PGDATABASE"])


def raised(e):
    """What the driver raised: its class and its SQLSTATE attribute."""
    code = getattr(e, "sqlstate", None)
    return type(e).__name__ + ("/" + code if code else "")


async def outcome(coro):
    try:
        await coro
        return "none"
    except Exception as e:  # every driver error is the answer here
        return raised(e)


async def main():
    c = await connect()                                         # connection 1
    await c.execute("CREATE TABLE IF NOT EXISTS pgf_rows (id int PRIMARY KEY)")
    for tag in ("ser", "dl", "uv"):
        print("%s=%s" % (tag, await outcome(c.fetchval("SELECT 1 /* pgf-%s */" % tag))))
    tr = c.transaction()
    await tr.start()
    await c.execute("SELECT 1")
    print("intx=" + await outcome(c.execute("SELECT 1 /* pgf-ser */")))
    print("next=" + await outcome(c.execute("SELECT 2")))
    await tr.rollback()
    # executemany: a Bind and an Execute per row, one Sync for them all.
    print("pipeline=" + await outcome(c.executemany("INSERT INTO pgf_rows VALUES ($1) /* pgf-pipe */",
                                                    [(10,), (11,), (12,)])))
    print("pipeline_rows=%d" % await c.fetchval("SELECT count(*) FROM pgf_rows WHERE id BETWEEN 10 AND 12"))

    async def commit(row):
        k = await connect()
        try:
            async with k.transaction():
                await k.execute("INSERT INTO pgf_rows VALUES (%d)" % row)
            return "none"
        except Exception as e:
            return raised(e)

    print("commit=" + await commit(20))                         # connection 2
    v = await connect()                                         # connection 3
    print("commit_rows=%d" % await v.fetchval("SELECT count(*) FROM pgf_rows WHERE id = 20"))
    d = await connect()                                         # connection 4
    print("drop=" + await outcome(d.fetchval("SELECT 1 /* pgf-drop */")))
    print("ambiguous=" + await commit(30))                      # connection 5
    v = await connect()                                         # connection 6
    print("ambiguous_rows=%d" % await v.fetchval("SELECT count(*) FROM pgf_rows WHERE id = 30"))
    m = await connect()                                         # connection 7
    # execute() without arguments: one simple Query of three statements.
    print("multi=" + await outcome(m.execute("BEGIN; INSERT INTO pgf_rows VALUES (40); COMMIT")))
    v = await connect()                                         # connection 8
    print("multi_rows=%d" % await v.fetchval("SELECT count(*) FROM pgf_rows WHERE id = 40"))


asyncio.run(main())
