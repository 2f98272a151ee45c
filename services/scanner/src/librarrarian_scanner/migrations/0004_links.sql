-- A file's hard links: a link made or removed changes neither its size nor its mtime (only its ctime), and
-- the scheduler decides differently for a file with other names, so a rescan must see it as changed.
ALTER TABLE files ADD COLUMN links integer NOT NULL DEFAULT 1;
