"""``refengine.nn.functional``: neural-network ops with torch's names and arguments."""
