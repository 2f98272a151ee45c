-- The queue's lists filtered by type (alone or with states): with these, each list is a range of one index
-- read newest first, whatever the share of the jobs that match (a rare type no longer reads the whole table).
CREATE INDEX jobs_by_kind ON jobs (kind, id DESC);
CREATE INDEX jobs_by_kind_status ON jobs (kind, status, id DESC);

-- The counts per state (job_counts) and per state and type (job_counts_by_kind) are kept per statement
-- instead of per row: a statement that changes many jobs (clearing the queue, releasing every job of a
-- type, a library's first scan) adds up its changes once, from its transition tables, and writes each count
-- once. Any state or type counts: a new one gets its row on first use. Rows are written in key order, so
-- two transactions never wait on each other in a circle; a statement that moves no job between states
-- (most updates) writes nothing.
DROP TRIGGER jobs_counted ON jobs;
DROP TRIGGER jobs_counted_by_kind ON jobs;
DROP FUNCTION count_jobs();
DROP FUNCTION count_jobs_by_kind();

-- The statement that adds ``changes`` (signed rows: ``sign``, 1 or -1, then status and kind) to both counts.
-- The trigger function runs it itself: the transition tables are visible to its own statements only.
CREATE FUNCTION job_counts_statement(changes text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH c AS (%s),
        per_kind AS (
            SELECT status, kind, sum(sign) AS n FROM c GROUP BY status, kind HAVING sum(sign) <> 0),
        by_status AS (
            INSERT INTO job_counts AS t
            SELECT status, sum(n) FROM per_kind GROUP BY status HAVING sum(n) <> 0 ORDER BY status
            ON CONFLICT (status) DO UPDATE SET n = t.n + excluded.n)
        INSERT INTO job_counts_by_kind AS t
        SELECT status, kind, n FROM per_kind ORDER BY status, kind
        ON CONFLICT (status, kind) DO UPDATE SET n = t.n + excluded.n
    $sql$, changes)
$$;

CREATE FUNCTION count_jobs() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE job_counts_statement('SELECT 1 AS sign, status, kind FROM new_rows');
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE job_counts_statement('SELECT -1 AS sign, status, kind FROM old_rows');
    ELSIF EXISTS (SELECT FROM old_rows o JOIN new_rows n USING (id) WHERE (o.status, o.kind) <> (n.status, n.kind))
    THEN
        -- Most updates move no job between states (a version, a node, a commit): they stop at this check,
        -- whose plan is kept, rather than plan the counting statement each time.
        EXECUTE job_counts_statement('SELECT -1 AS sign, status, kind FROM old_rows'
            ' UNION ALL SELECT 1 AS sign, status, kind FROM new_rows');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_counted_on_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_jobs();
CREATE TRIGGER jobs_counted_on_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_jobs();
CREATE TRIGGER jobs_counted_on_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_jobs();

-- The counts as the jobs are now: the triggers created above locked the table against writes until the
-- migration's transaction ends, so nothing changes between this count and them.
DELETE FROM job_counts;
DELETE FROM job_counts_by_kind;
DO $$ BEGIN EXECUTE job_counts_statement('SELECT 1 AS sign, status, kind FROM jobs'); END $$;
