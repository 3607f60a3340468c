"""Git access: repository mirrors, and snapshots read from git objects at a commit."""
