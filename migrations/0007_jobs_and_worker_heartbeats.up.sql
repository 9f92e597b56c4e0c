-- 0007 background jobs and worker heartbeats (the seed's Celery, in Postgres).
-- Jobs are claimed with FOR UPDATE SKIP LOCKED, so any number of workers can run.

CREATE TABLE jobs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind        text NOT NULL,
    -- The agency the job acts for; NULL for platform jobs such as the idempotency purge.
    agency_id   uuid REFERENCES agencies (id) ON DELETE CASCADE,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- A platform job that recurs has a unique name, so only one copy of it is ever queued.
    unique_name text UNIQUE,
    run_at      timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    locked_by   text,
    locked_at   timestamptz,
    last_error  text,
    finished_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_runnable_idx ON jobs (run_at) WHERE finished_at IS NULL;

-- The queue is a platform table: the worker must see every agency's jobs to claim them.
-- A request may only see and enqueue its own agency's jobs.
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY jobs_tenant ON jobs
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());
CREATE POLICY jobs_worker ON jobs
    USING (current_setting('app.worker', true) = 'on') WITH CHECK (current_setting('app.worker', true) = 'on');

CREATE TABLE worker_heartbeats (
    worker_id  text PRIMARY KEY,
    hostname   text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    beat_at    timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON jobs, worker_heartbeats TO innkeep_app;
