-- The source's hard links when the job was decided: a link added or removed since (a seed finished) is a
-- new decision for the same file.
ALTER TABLE jobs ADD COLUMN source_links integer;
