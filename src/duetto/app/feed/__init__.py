"""The feeds: For You (ranked by engagement, recency, the viewer's graph and their own words) and Following."""
