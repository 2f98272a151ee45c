-- What the dashboard and the statistics page show, kept up to date by statement triggers in the transaction
-- that changes the history, so that a page load reads a few small rows instead of aggregating a million:
--   transcode_totals: files and sizes per status (the dashboard's tiles);
--   transcode_days / transcode_hours: the encoded files per UTC day and hour, node and codecs (the charts;
--   a window that starts within a day reads that day's whole hours and the raw rows of its first hour).
-- Sums are numeric: adding and taking away the same values gives back exactly what was there.
CREATE TABLE transcode_totals (
    status        text PRIMARY KEY,
    files         bigint NOT NULL,
    bytes_before  numeric NOT NULL,
    bytes_after   numeric NOT NULL,
    reductions    bigint NOT NULL,   -- files with both sizes known (size_before <> 0): the average's count
    reduction_sum numeric NOT NULL   -- sum of 1 - size_after / size_before over those
);

CREATE TABLE transcode_days (
    day          date NOT NULL,      -- (finished_at AT TIME ZONE 'UTC')::date
    node         text NOT NULL,
    codec_before text NOT NULL,      -- 'unknown' where the row has none
    codec_after  text NOT NULL,
    files        bigint NOT NULL,
    saved        numeric NOT NULL,   -- sum of size_before - size_after where both are known
    bytes_before numeric NOT NULL,
    media        numeric NOT NULL,   -- sum of duration
    busy         numeric NOT NULL,   -- sum of elapsed_seconds
    PRIMARY KEY (day, node, codec_before, codec_after)
);

CREATE TABLE transcode_hours (
    hour         timestamp NOT NULL, -- date_trunc('hour', finished_at AT TIME ZONE 'UTC')
    node         text NOT NULL,
    codec_before text NOT NULL,
    codec_after  text NOT NULL,
    files        bigint NOT NULL,
    saved        numeric NOT NULL,
    bytes_before numeric NOT NULL,
    media        numeric NOT NULL,
    busy         numeric NOT NULL,
    PRIMARY KEY (hour, node, codec_before, codec_after)
);

-- The statement that adds the rows of ``changes`` (a query of signed transcode rows: a column ``sign``, 1 or
-- -1, then the row) to the three tables. Rows are upserted in key order, so two statements never wait on
-- each other in a circle; a group whose changes cancel out (a rename) is not written. The trigger function
-- runs it itself: the transition tables are visible to its own statements only.
CREATE FUNCTION summaries_statement(changes text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH c AS (%s),
        totals AS (
            INSERT INTO transcode_totals AS t
            SELECT status, sum(sign), coalesce(sum(sign * size_before::numeric), 0),
                coalesce(sum(sign * size_after::numeric), 0),
                coalesce(sum(sign) FILTER (WHERE size_before <> 0 AND size_after IS NOT NULL), 0),
                coalesce(sum(sign * (1 - size_after::numeric / nullif(size_before, 0))), 0)
            FROM c GROUP BY status
            HAVING sum(sign) <> 0 OR sum(sign * size_before::numeric) <> 0 OR sum(sign * size_after::numeric) <> 0
            ORDER BY status
            ON CONFLICT (status) DO UPDATE SET files = t.files + excluded.files,
                bytes_before = t.bytes_before + excluded.bytes_before,
                bytes_after = t.bytes_after + excluded.bytes_after,
                reductions = t.reductions + excluded.reductions,
                reduction_sum = t.reduction_sum + excluded.reduction_sum),
        done AS (
            SELECT finished_at AT TIME ZONE 'UTC' AS at, node, coalesce(codec_before, 'unknown') AS codec_before,
                coalesce(codec_after, 'unknown') AS codec_after, sign,
                coalesce(sign * (size_before - size_after)::numeric, 0) AS saved,
                coalesce(sign * size_before::numeric, 0) AS bytes_before,
                coalesce(sign * duration::numeric, 0) AS media, coalesce(sign * elapsed_seconds::numeric, 0) AS busy
            FROM c WHERE status = 'done'),
        days AS (
            INSERT INTO transcode_days AS d
            SELECT at::date, node, codec_before, codec_after, sum(sign), sum(saved), sum(bytes_before),
                sum(media), sum(busy)
            FROM done GROUP BY 1, 2, 3, 4
            HAVING sum(sign) <> 0 OR sum(saved) <> 0 OR sum(bytes_before) <> 0 OR sum(media) <> 0 OR sum(busy) <> 0
            ORDER BY 1, 2, 3, 4
            ON CONFLICT (day, node, codec_before, codec_after) DO UPDATE SET files = d.files + excluded.files,
                saved = d.saved + excluded.saved, bytes_before = d.bytes_before + excluded.bytes_before,
                media = d.media + excluded.media, busy = d.busy + excluded.busy)
        INSERT INTO transcode_hours AS h
        SELECT date_trunc('hour', at), node, codec_before, codec_after, sum(sign), sum(saved), sum(bytes_before),
            sum(media), sum(busy)
        FROM done GROUP BY 1, 2, 3, 4
        HAVING sum(sign) <> 0 OR sum(saved) <> 0 OR sum(bytes_before) <> 0 OR sum(media) <> 0 OR sum(busy) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (hour, node, codec_before, codec_after) DO UPDATE SET files = h.files + excluded.files,
            saved = h.saved + excluded.saved, bytes_before = h.bytes_before + excluded.bytes_before,
            media = h.media + excluded.media, busy = h.busy + excluded.busy
    $sql$, changes)
$$;

CREATE FUNCTION summarise_transcodes() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE summaries_statement('SELECT 1 AS sign, * FROM new_rows');
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE summaries_statement('SELECT -1 AS sign, * FROM old_rows');
    ELSIF EXISTS (
        SELECT FROM old_rows o JOIN new_rows n USING (id)
        WHERE (o.status, o.node, o.codec_before, o.codec_after, o.size_before, o.size_after, o.duration,
            o.elapsed_seconds, o.finished_at) IS DISTINCT FROM (n.status, n.node, n.codec_before, n.codec_after,
            n.size_before, n.size_after, n.duration, n.elapsed_seconds, n.finished_at))
    THEN
        -- A rename (the only update the service makes) changes nothing summarised: it stops here.
        EXECUTE summaries_statement(
            'SELECT -1 AS sign, * FROM old_rows UNION ALL SELECT 1 AS sign, * FROM new_rows');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER transcodes_summarised_on_insert AFTER INSERT ON transcodes
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION summarise_transcodes();
CREATE TRIGGER transcodes_summarised_on_update AFTER UPDATE ON transcodes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION summarise_transcodes();
CREATE TRIGGER transcodes_summarised_on_delete AFTER DELETE ON transcodes
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION summarise_transcodes();

-- The history recorded before this migration, summarised once. CREATE TRIGGER locked the table against
-- writes until the migration's transaction ends, so no row arrives between this summary and the triggers.
DO $$ BEGIN EXECUTE summaries_statement('SELECT 1 AS sign, * FROM transcodes'); END $$;
