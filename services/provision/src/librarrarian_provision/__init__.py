"""The one-shot step before the services start: the bus topology, and each service's database role."""
