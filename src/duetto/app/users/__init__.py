"""Users, their API keys, web accounts (sign-in, sessions, profiles) and handles."""
