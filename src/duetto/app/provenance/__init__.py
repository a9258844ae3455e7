"""The app's side of provenance: marking and fingerprinting finished clips, verification, exports with content
credentials, and takedown requests (their hold is `moderation.holds`)."""
