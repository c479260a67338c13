"""Container images raydeploy builds on the controller for hosts without a registry."""
