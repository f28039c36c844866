"""The /v1 routes, one module per resource. Each route is a few lines: it parses a model, checks
what can be checked at once, and hands the work to a service (control_plane/services/wiring.py
builds them). Every router takes the services and the token check."""
