-- Jobs per status and kind, kept by a trigger like job_counts: the metrics endpoint reads them on every
-- scrape, where counting the jobs each time would cost a scan of the whole table.
CREATE TABLE job_counts_by_kind (
    status text NOT NULL,
    kind   text NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (status, kind)
);
INSERT INTO job_counts_by_kind SELECT status, kind, count(*) FROM jobs GROUP BY status, kind;

CREATE FUNCTION count_jobs_by_kind() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- A job's kind never changes. Rows are changed in the order of their status names, as in count_jobs,
    -- so two transactions never wait on each other in a circle.
    IF TG_OP = 'UPDATE' AND OLD.status = NEW.status THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status < NEW.status) THEN
        UPDATE job_counts_by_kind SET n = n - 1 WHERE status = OLD.status AND kind = OLD.kind;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO job_counts_by_kind VALUES (NEW.status, NEW.kind, 1)
            ON CONFLICT (status, kind) DO UPDATE SET n = job_counts_by_kind.n + 1;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status > NEW.status THEN
        UPDATE job_counts_by_kind SET n = n - 1 WHERE status = OLD.status AND kind = OLD.kind;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_counted_by_kind AFTER INSERT OR DELETE OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION count_jobs_by_kind();
