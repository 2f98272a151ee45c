"""The arr service: Sonarr, Radarr and Lidarr kept in step with the library."""
