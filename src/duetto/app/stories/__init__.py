"""The stories domain: storyboards of several shots, what a story may hold, and where its making stands."""
