"""Chain fixtures: the embedded py-evm chain and a real local anvil node (filled in by the registry work)."""
