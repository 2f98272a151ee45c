-- Where a finished transcode's original was kept (job.completed's recycled: its recycle folder entry).
ALTER TABLE transcodes ADD COLUMN recycled text;
