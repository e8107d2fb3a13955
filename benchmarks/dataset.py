"""A realistic task population on PostgreSQL, made by the server itself in bulk.

    fill(engine, tasks=1_000_000, accounts=50, people=2_000, teams=200)

Set-based ``INSERT ... SELECT generate_series`` (no row goes through Python), seeded, so
two runs make the same data. Spreads follow what help desks see: account sizes are
skewed (the largest holds about a fifth of all tasks, the smallest a few hundred), ids
grow with ``created_at`` over three years, most tasks are finished, open ones spread
over the active statuses, a fifth have no impact, due dates on two in five, alerts on
one in ten, labels on one in five, a third in workflows. Used by
``benchmarks/queries.py`` and by the query-plan test.
"""

from __future__ import annotations

import time

import sqlalchemy

#: Accounts are chosen as ``1 + floor(random() ** SKEW * accounts)``: with 50 accounts
#: the first gets ~21% of the rows.
SKEW = 2.5

_SQL = """
SELECT setseed(0.42);

INSERT INTO account (slug, name, created_at)
SELECT '{prefix}-' || g, 'Account ' || g, now() FROM generate_series(1, {accounts}) g;

CREATE TEMP TABLE bench_account AS
SELECT row_number() OVER (ORDER BY id) AS no, id, slug FROM account WHERE slug LIKE '{prefix}-%';

INSERT INTO person (account_id, name, primary_email, admin, disabled, created_at, updated_at)
SELECT a.id, 'Person ' || s.g, 'p' || s.g || '@' || a.slug || '.example', s.g <= {accounts},
       false, now(), now()
FROM (SELECT g, CASE WHEN g <= {accounts} THEN g
                     ELSE 1 + floor(power(random(), {skew}) * {accounts})::int END AS no
      FROM generate_series(1, {people}) g OFFSET 0) s
JOIN bench_account a USING (no);

INSERT INTO team (account_id, name, disabled, created_at, updated_at)
SELECT a.id, 'Team ' || s.g, false, now(), now()
FROM (SELECT g, CASE WHEN g <= {accounts} THEN g
                     ELSE 1 + floor(power(random(), {skew}) * {accounts})::int END AS no
      FROM generate_series(1, {teams}) g OFFSET 0) s
JOIN bench_account a USING (no);

CREATE TEMP TABLE bench_refs AS
SELECT a.no, a.id AS account_id,
       (SELECT array_agg(id ORDER BY id) FROM person WHERE account_id = a.id) AS people,
       (SELECT array_agg(id ORDER BY id) FROM team WHERE account_id = a.id) AS teams
FROM bench_account a;

-- Each person in one to three teams of the account (people in several teams are the
-- case that "assigned to my team" must get right).
INSERT INTO team_membership (team_id, person_id, created_at)
SELECT r.teams[1 + floor(random() * cardinality(r.teams))::int], p.id, now()
FROM person p JOIN bench_refs r USING (account_id)
CROSS JOIN generate_series(1, 3) k
WHERE k = 1 OR random() < 0.4
ON CONFLICT DO NOTHING;

INSERT INTO workflow (account_id, subject, category, status, manager_id, created_by_id,
                      created_at, updated_at, completed_at)
SELECT r.account_id, 'Workflow ' || s.g, 'standard',
       CASE WHEN s.done THEN 'completed' ELSE 'in_progress' END,
       r.people[1 + floor(s.pick * cardinality(r.people))::int], r.people[1],
       now() - interval '3 years', now(), CASE WHEN s.done THEN now() END
FROM (SELECT g, random() < 0.6 AS done, random() AS pick,
             1 + floor(power(random(), {skew}) * {accounts})::int AS no
      FROM generate_series(1, {workflows}) g OFFSET 0) s
JOIN bench_refs r USING (no);

CREATE TEMP TABLE bench_workflows AS
SELECT account_id, array_agg(id ORDER BY id) AS ids FROM workflow
WHERE account_id IN (SELECT id FROM bench_account) GROUP BY account_id;

INSERT INTO task (account_id, workflow_id, subject, category, impact, status, team_id,
                  member_id, created_by_id, planned_duration, urgent, work_hours_are_24x7,
                  source, source_id, created_at, updated_at, assigned_at, finished_at,
                  completion_target_at, due_at, alert_at, alert_sent_at)
SELECT r.account_id,
       CASE WHEN s.r_workflow < 0.3 AND w.ids IS NOT NULL
            THEN w.ids[1 + floor(s.r_pick * cardinality(w.ids))::int] END,
       (ARRAY['Restore backup', 'Renew certificate', 'Patch servers', 'Review access',
              'Replace disk', 'Approve change', 'Update firewall', 'Call customer'])
         [1 + (s.g % 8)] || ' #' || s.g,
       CASE WHEN s.status IN ('approved', 'rejected') OR s.r_category < 0.08 THEN 'approval'
            ELSE 'implementation' END,
       CASE WHEN s.r_impact < 0.2 THEN NULL WHEN s.r_impact < 0.45 THEN 'low'
            WHEN s.r_impact < 0.8 THEN 'medium' WHEN s.r_impact < 0.95 THEN 'high'
            ELSE 'top' END,
       s.status,
       CASE WHEN s.status <> 'registered' AND s.r_team < 0.9
            THEN r.teams[1 + floor(s.r_pick * cardinality(r.teams))::int] END,
       CASE WHEN s.status <> 'registered' AND (s.r_team >= 0.9 OR s.r_member < 0.7)
            THEN r.people[1 + floor(s.r_person * cardinality(r.people))::int] END,
       r.people[1],
       (ARRAY[30, 60, 120, 240, 480, 960])[1 + (s.g % 6)],
       s.r_impact > 0.97, s.r_team > 0.95,
       CASE WHEN s.r_source < 0.2 THEN (ARRAY['email', 'monitoring'])[1 + (s.g % 2)] END,
       CASE WHEN s.r_source < 0.2 THEN 'src-' || s.g END,
       s.created, least(s.created + s.r_update * interval '30 days', now()),
       CASE WHEN s.status <> 'registered' THEN s.created + interval '5 minutes' END,
       CASE WHEN s.finished THEN least(s.created + s.r_update * interval '30 days', now()) END,
       CASE WHEN s.status NOT IN ('registered', 'waiting_for_customer') AND NOT s.finished
            THEN s.created + interval '5 minutes' + s.r_due * interval '10 days' END,
       CASE WHEN s.r_due < 0.4 THEN s.created + (1 + s.r_due * 75) * interval '1 day' END,
       CASE WHEN s.r_alert < 0.1 THEN s.created + (1 + s.r_alert * 200) * interval '1 day' END,
       CASE WHEN s.r_alert < 0.1 AND s.created + (1 + s.r_alert * 200) * interval '1 day' < now()
            THEN s.created + (1 + s.r_alert * 200) * interval '1 day' END
FROM (
  SELECT g, status, status IN ('completed', 'canceled', 'failed', 'approved', 'rejected') AS finished,
         -- ids grow with created_at: three years, the newest tasks the most open
         now() - interval '3 years' + (g::float8 / {tasks}) * interval '3 years'
           - random() * interval '1 hour' AS created,
         r_workflow, r_pick, r_category, r_impact, r_team, r_member, r_person, r_source,
         r_update, r_due, r_alert, no
  FROM (
    SELECT g, random() AS r_status, random() AS r_workflow, random() AS r_pick,
           random() AS r_category, random() AS r_impact, random() AS r_team,
           random() AS r_member, random() AS r_person, random() AS r_source,
           random() AS r_update, random() AS r_due, random() AS r_alert,
           1 + floor(power(random(), {skew}) * {accounts})::int AS no
    FROM generate_series(1, {tasks}) g OFFSET 0
  ) raw
  CROSS JOIN LATERAL (
    SELECT CASE
      WHEN g > {tasks} * 0.9 AND r_status < 0.5 THEN
        (ARRAY['registered', 'assigned', 'accepted', 'in_progress', 'waiting_for',
               'waiting_for_customer'])[1 + floor(r_status * 12)::int]
      WHEN r_status < 0.03 THEN 'registered' WHEN r_status < 0.10 THEN 'assigned'
      WHEN r_status < 0.14 THEN 'accepted' WHEN r_status < 0.20 THEN 'in_progress'
      WHEN r_status < 0.22 THEN 'waiting_for' WHEN r_status < 0.23 THEN 'waiting_for_customer'
      WHEN r_status < 0.88 THEN 'completed' WHEN r_status < 0.93 THEN 'canceled'
      WHEN r_status < 0.95 THEN 'failed' WHEN r_status < 0.98 THEN 'approved'
      ELSE 'rejected' END AS status
  ) st
  OFFSET 0
) s
JOIN bench_refs r USING (no)
LEFT JOIN bench_workflows w ON w.account_id = r.account_id;

INSERT INTO task_label (task_id, name, created_at)
SELECT t.id,
       (ARRAY['network', 'database', 'security', 'customer', 'backup'])[1 + (t.id / 5 + 2 * k) % 5],
       now()
FROM task t CROSS JOIN generate_series(0, 1) k
WHERE t.account_id IN (SELECT id FROM bench_account) AND t.id % 5 = 0 AND (k = 0 OR t.id % 2 = 0)
ON CONFLICT DO NOTHING;

DROP TABLE bench_account, bench_refs, bench_workflows;
"""


def fill(
    engine: sqlalchemy.Engine,
    tasks: int,
    accounts: int = 50,
    people: int = 2_000,
    teams: int = 200,
    prefix: str = "bench",
) -> float:
    """Add the population to a migrated PostgreSQL database; returns the seconds taken.

    Accounts are named ``{prefix}-1`` (the largest) to ``{prefix}-{accounts}``; the
    first person of each is its administrator.
    """
    started = time.perf_counter()
    sql = _SQL.format(
        prefix=prefix,
        accounts=accounts,
        people=max(people, accounts),
        teams=max(teams, accounts),
        workflows=max(tasks // 20, accounts),
        tasks=tasks,
        skew=SKEW,
    )
    # Straight to psycopg, without parameters: the script is many statements and has
    # literal ``%`` (modulo, LIKE) that a parameterised call would take for placeholders.
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute(sql)  # type: ignore[union-attr]
        raw.commit()
    finally:
        raw.close()
    # Fresh statistics and visibility map, as autovacuum would leave them.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started
