"""What every service process shares: connecting, migrating, logging, signals, settings, containment."""
