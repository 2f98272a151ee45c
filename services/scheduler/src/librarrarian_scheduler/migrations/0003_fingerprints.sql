-- Content identity. A job keeps its source's fingerprint; "sightings" keeps the newest fingerprint the
-- scanner reported for each path, so an output renamed after its job completed (Arr renames) is still
-- recognised, whichever of the scanner's sighting and the encoder's completion arrived first.
ALTER TABLE jobs ADD COLUMN source_fingerprint text;
CREATE INDEX jobs_by_source_fingerprint ON jobs (source_fingerprint) WHERE source_fingerprint IS NOT NULL;

CREATE TABLE sightings (
    path        text PRIMARY KEY,
    size        bigint NOT NULL,
    fingerprint text NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sightings_by_fingerprint ON sightings (fingerprint);
