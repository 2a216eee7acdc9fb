"""One-off check of rollups-postgres.sql against SITEMON_PG_DSN (run from the repo root): the additive upsert of per-batch folds equals fold() of everything; every read statement prepares. Uses and drops a scratch schema."""
import asyncio, json, os, random, re, uuid
from datetime import UTC, datetime, timedelta
import asyncpg
from sitemon_core.models import CheckResult, PhaseTimings
from sitemon_core.rollup import fold, merge_maps, Rollup, HOUR, period_start

text = open("docs/proposals/rollups-postgres.sql").read()
stmts = [st.strip() for st in re.split(r";[ \t]*(?:--[^\n]*)?\n", text) if st.strip()]
def body(st): return "\n".join(l for l in st.splitlines() if not l.strip().startswith("--")).strip()
stmts = [body(s) for s in stmts if body(s)]

def res(rng, i, t0):
    return CheckResult(check_id=f"c{i}", site_id=rng.choice("ab"), url="u", region=rng.choice(["eu","us"]),
        started_at=t0 + timedelta(minutes=rng.randrange(0, 300)), ok=rng.random() < .9,
        total_ms=rng.lognormvariate(4, 1), timings=PhaseTimings(dns_ms=rng.random()*10, connect_ms=None, tls_ms=rng.random()*30, ttfb_ms=rng.random()*80, transfer_ms=1.0))

def row(r: Rollup):
    return (r.site_id, r.region, r.start, r.checks, r.ok, r.total_min_us, r.total_max_us, r.total_sum_us,
            list(r.phase_sums_us), list(r.phase_counts), json.dumps({str(k): v for k, v in r.histogram}))

async def main():
    schema = "webcheck_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(os.environ["SITEMON_PG_DSN"])
    await conn.execute(f"CREATE SCHEMA {schema}; SET search_path = {schema}")
    try:
        await conn.execute(open("src/sitemon_adapters/store/postgres/sql/0001_initial.sql").read())
        for st in stmts:
            if st.startswith(("CREATE", "ALTER")):
                await conn.execute(st)
        upsert = next(s for s in stmts if s.startswith("INSERT INTO check_rollup_hourly"))
        region_upsert = next(s for s in stmts if s.startswith("INSERT INTO site_region_status"))
        rng = random.Random(7); t0 = datetime(2026, 3, 1, tzinfo=UTC)
        results = [res(rng, i, t0) for i in range(2000)]
        batches = [results[:700], results[700:1500], results[1500:]]
        for batch in batches:
            deltas = sorted(fold(batch).values(), key=lambda r: r.key)
            async with conn.transaction():
                await conn.executemany(upsert, [row(d) for d in deltas])
                for r in batch:
                    await conn.execute(region_upsert, r.started_at, r.total_ms, r.status_code, r.ok, r.site_id, r.region, r.check_id, r.error_kind.value, r.error_message)
        expected = fold(results)
        got = {}
        for rec in await conn.fetch("SELECT * FROM check_rollup_hourly"):
            hist = tuple(sorted((int(k), v) for k, v in json.loads(rec["histogram"]).items()))
            got[(rec["site_id"], rec["region"], rec["hour"])] = Rollup(site_id=rec["site_id"], region=rec["region"], start=rec["hour"],
                checks=rec["checks"], ok=rec["ok"], total_min_us=rec["total_min_us"], total_max_us=rec["total_max_us"], total_sum_us=rec["total_sum_us"],
                phase_sums_us=tuple(rec["phase_sum_us"]), phase_counts=tuple(rec["phase_count"]), histogram=hist)
        print("rollups equal to fold of everything:", got == expected, len(got), "rows")
        latest = {(r.site_id, r.region): r for r in sorted(results, key=lambda r: (r.started_at, r.check_id))}
        rows = await conn.fetch("SELECT site_id, region, check_id FROM site_region_status")
        print("per-region latest right:", {(r["site_id"], r["region"]): r["check_id"] for r in rows} == {k: v.check_id for k, v in latest.items()})
        # the read queries parse and run
        now = t0 + timedelta(hours=5)
        for st in stmts:
            if st.startswith("SELECT"):
                n = len(set(re.findall(r"\$(\d+)", st)))
                print("read with", n, "params:", st.splitlines()[0][:70])
                await conn.prepare(st)
        print("all read statements prepared")
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()
asyncio.run(main())
