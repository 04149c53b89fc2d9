"""The plan: diff (pure; the heart), safety checks, plan file, rendering, and apply."""
