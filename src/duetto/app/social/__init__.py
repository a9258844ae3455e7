"""The social app's domain: accounts, posts and remix lineage, follows, blocks, likes, comments, DMs, reports."""
