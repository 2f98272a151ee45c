-- A file the scanner reports is checked for a sibling in flight (the same name with another extension) by
-- its name's prefix among the active jobs. In byte order (the C collation) a prefix is a range, which this
-- index answers in any database locale; without it every report read the whole table, so taking in a
-- library slowed down as its jobs grew.
CREATE INDEX jobs_active_by_path_bytes ON jobs ((path COLLATE "C")) WHERE status IN ('pending', 'running');
