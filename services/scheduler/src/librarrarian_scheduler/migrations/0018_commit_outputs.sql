-- The output each granted delivery was about to put in the original's place (its inode, size and mtime, as
-- JSON): a later delivery of the job that finds that file under the original's name knows the replace was
-- done by a holder that died before reporting it (an MP4 output carries no tag of ours to say so).
ALTER TABLE commits ADD COLUMN output jsonb;
