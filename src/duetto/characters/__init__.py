"""Characters as media: checking that an enrollment recording shows a live person answering their challenge."""
