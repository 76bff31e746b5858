"""One router module per resource; ``main`` mounts them under ``/api/v1`` (health at the root)."""
