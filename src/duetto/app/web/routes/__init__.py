"""The page routers, one module per domain (every page of a domain in one home); each parses the form, calls a
service or flow, and renders."""
