"""dockyard reference todo API."""
