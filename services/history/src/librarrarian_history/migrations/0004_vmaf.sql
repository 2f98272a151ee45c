-- How close the output looks to the original (job.completed's vmaf), when the encoder measured it.
ALTER TABLE transcodes ADD COLUMN vmaf double precision;
