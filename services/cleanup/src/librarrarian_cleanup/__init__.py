"""The cleanup service: finds stale temporary and lock files, and deletes them once a user approved."""
