-- Jobs per status, kept by a trigger: the queue page shows them on every request, and counting 100,000
-- rows each time costs more than the page itself.
CREATE TABLE job_counts (
    status text PRIMARY KEY,
    n      bigint NOT NULL
);
INSERT INTO job_counts SELECT status, count(*) FROM jobs GROUP BY status;

CREATE FUNCTION count_jobs() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Rows are always changed in the order of their status names, so two transactions never wait on
    -- each other in a circle (no deadlock between, say, pending -> running and failed -> pending).
    IF TG_OP = 'UPDATE' AND OLD.status = NEW.status THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status < NEW.status) THEN
        UPDATE job_counts SET n = n - 1 WHERE status = OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO job_counts VALUES (NEW.status, 1) ON CONFLICT (status) DO UPDATE SET n = job_counts.n + 1;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status > NEW.status THEN
        UPDATE job_counts SET n = n - 1 WHERE status = OLD.status;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_counted AFTER INSERT OR DELETE OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION count_jobs();
