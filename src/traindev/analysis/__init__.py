"""Error analysis beyond the headline numbers: error sheets, label issues, data mismatch."""
