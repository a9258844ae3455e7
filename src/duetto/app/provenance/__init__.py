"""The app's side of provenance: marking and fingerprinting finished clips, verification, and takedowns."""
