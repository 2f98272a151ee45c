-- The last lines ffmpeg wrote for a finished transcode (job.completed's ffmpeg_log), shown in its details.
ALTER TABLE transcodes ADD COLUMN ffmpeg_log text;
