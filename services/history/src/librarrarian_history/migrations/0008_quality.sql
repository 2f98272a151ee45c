-- How each finished transcode's quality level was chosen and what its check measured (job.completed's
-- quality, a QualityChoice as JSON), for its details; and, in the summaries of migration 0007, per UTC day and
-- hour: the files whose VMAF was measured and the sum of their scores (a day's mean), and the target-mode
-- files whose size at the fixed level was estimated, with the bytes they saved against it.
-- No write may land between the summaries' new columns being filled below and the new trigger statement.
LOCK TABLE transcodes IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE transcodes ADD COLUMN quality jsonb;

-- A file's measured VMAF: the quality check's mean, or, without one, the score measure_vmaf kept.
CREATE FUNCTION measured_vmaf(quality jsonb, vmaf double precision) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce((quality ->> 'measured')::numeric, vmaf::numeric);

-- The bytes a target-mode file saved against fixed mode: its estimated size at the fixed level less its
-- size; null where either is unknown (and for fixed mode). Negative when the target needed a finer level.
CREATE FUNCTION saved_vs_fixed(quality jsonb, size_after bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN quality ->> 'mode' = 'target' THEN (quality ->> 'fixed_bytes')::numeric - size_after END;

ALTER TABLE transcode_days
    ADD COLUMN measured bigint NOT NULL DEFAULT 0,        -- files with a measured VMAF
    ADD COLUMN vmaf_sum numeric NOT NULL DEFAULT 0,       -- the sum of their scores
    ADD COLUMN compared bigint NOT NULL DEFAULT 0,        -- target-mode files with saved_vs_fixed known
    ADD COLUMN saved_vs_fixed numeric NOT NULL DEFAULT 0; -- the sum of it
ALTER TABLE transcode_hours
    ADD COLUMN measured bigint NOT NULL DEFAULT 0,
    ADD COLUMN vmaf_sum numeric NOT NULL DEFAULT 0,
    ADD COLUMN compared bigint NOT NULL DEFAULT 0,
    ADD COLUMN saved_vs_fixed numeric NOT NULL DEFAULT 0;

-- 0007's statement, adding the four new sums to the day and hour rows.
CREATE OR REPLACE FUNCTION summaries_statement(changes text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
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
                coalesce(sign * duration::numeric, 0) AS media, coalesce(sign * elapsed_seconds::numeric, 0) AS busy,
                CASE WHEN measured_vmaf(quality, vmaf) IS NOT NULL THEN sign ELSE 0 END AS measured,
                coalesce(sign * measured_vmaf(quality, vmaf), 0) AS vmaf_sum,
                CASE WHEN saved_vs_fixed(quality, size_after) IS NOT NULL THEN sign ELSE 0 END AS compared,
                coalesce(sign * saved_vs_fixed(quality, size_after), 0) AS saved_vs_fixed
            FROM c WHERE status = 'done'),
        days AS (
            INSERT INTO transcode_days AS d
            SELECT at::date, node, codec_before, codec_after, sum(sign), sum(saved), sum(bytes_before),
                sum(media), sum(busy), sum(measured), sum(vmaf_sum), sum(compared), sum(saved_vs_fixed)
            FROM done GROUP BY 1, 2, 3, 4
            HAVING sum(sign) <> 0 OR sum(saved) <> 0 OR sum(bytes_before) <> 0 OR sum(media) <> 0 OR sum(busy) <> 0
                OR sum(measured) <> 0 OR sum(vmaf_sum) <> 0 OR sum(compared) <> 0 OR sum(saved_vs_fixed) <> 0
            ORDER BY 1, 2, 3, 4
            ON CONFLICT (day, node, codec_before, codec_after) DO UPDATE SET files = d.files + excluded.files,
                saved = d.saved + excluded.saved, bytes_before = d.bytes_before + excluded.bytes_before,
                media = d.media + excluded.media, busy = d.busy + excluded.busy,
                measured = d.measured + excluded.measured, vmaf_sum = d.vmaf_sum + excluded.vmaf_sum,
                compared = d.compared + excluded.compared,
                saved_vs_fixed = d.saved_vs_fixed + excluded.saved_vs_fixed)
        INSERT INTO transcode_hours AS h
        SELECT date_trunc('hour', at), node, codec_before, codec_after, sum(sign), sum(saved), sum(bytes_before),
            sum(media), sum(busy), sum(measured), sum(vmaf_sum), sum(compared), sum(saved_vs_fixed)
        FROM done GROUP BY 1, 2, 3, 4
        HAVING sum(sign) <> 0 OR sum(saved) <> 0 OR sum(bytes_before) <> 0 OR sum(media) <> 0 OR sum(busy) <> 0
            OR sum(measured) <> 0 OR sum(vmaf_sum) <> 0 OR sum(compared) <> 0 OR sum(saved_vs_fixed) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (hour, node, codec_before, codec_after) DO UPDATE SET files = h.files + excluded.files,
            saved = h.saved + excluded.saved, bytes_before = h.bytes_before + excluded.bytes_before,
            media = h.media + excluded.media, busy = h.busy + excluded.busy,
            measured = h.measured + excluded.measured, vmaf_sum = h.vmaf_sum + excluded.vmaf_sum,
            compared = h.compared + excluded.compared, saved_vs_fixed = h.saved_vs_fixed + excluded.saved_vs_fixed
    $sql$, changes)
$$;

-- 0007's trigger function, with the scores among what an update may change.
CREATE OR REPLACE FUNCTION summarise_transcodes() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE summaries_statement('SELECT 1 AS sign, * FROM new_rows');
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE summaries_statement('SELECT -1 AS sign, * FROM old_rows');
    ELSIF EXISTS (
        SELECT FROM old_rows o JOIN new_rows n USING (id)
        WHERE (o.status, o.node, o.codec_before, o.codec_after, o.size_before, o.size_after, o.duration,
            o.elapsed_seconds, o.finished_at, o.vmaf, o.quality) IS DISTINCT FROM (n.status, n.node,
            n.codec_before, n.codec_after, n.size_before, n.size_after, n.duration, n.elapsed_seconds,
            n.finished_at, n.vmaf, n.quality))
    THEN
        -- A rename (the only update the service makes) changes nothing summarised: it stops here.
        EXECUTE summaries_statement(
            'SELECT -1 AS sign, * FROM old_rows UNION ALL SELECT 1 AS sign, * FROM new_rows');
    END IF;
    RETURN NULL;
END
$$;

-- The scores recorded before this migration (no row has a quality yet), added to their day and hour once.
WITH scored AS (
    SELECT finished_at AT TIME ZONE 'UTC' AS at, node, coalesce(codec_before, 'unknown') AS codec_before,
        coalesce(codec_after, 'unknown') AS codec_after, vmaf::numeric AS vmaf
    FROM transcodes WHERE status = 'done' AND vmaf IS NOT NULL),
days AS (
    UPDATE transcode_days d SET measured = s.measured, vmaf_sum = s.vmaf_sum
    FROM (SELECT at::date AS day, node, codec_before, codec_after, count(*) AS measured, sum(vmaf) AS vmaf_sum
          FROM scored GROUP BY 1, 2, 3, 4) s
    WHERE (d.day, d.node, d.codec_before, d.codec_after) = (s.day, s.node, s.codec_before, s.codec_after))
UPDATE transcode_hours h SET measured = s.measured, vmaf_sum = s.vmaf_sum
FROM (SELECT date_trunc('hour', at) AS hour, node, codec_before, codec_after, count(*) AS measured,
          sum(vmaf) AS vmaf_sum
      FROM scored GROUP BY 1, 2, 3, 4) s
WHERE (h.hour, h.node, h.codec_before, h.codec_after) = (s.hour, s.node, s.codec_before, s.codec_after);
