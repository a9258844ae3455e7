"""The page routers, one per part of the app; each parses the form, calls a service and renders."""
