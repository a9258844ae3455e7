"""The social domain: posts and remix lineage (with each post's terms and hot score), follows and blocks, likes,
comments, views and direct messages."""
