"""Storage, limits and webhooks: the outside services the domains use, built on core alone."""
