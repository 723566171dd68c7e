"""The MkDocs side: turn results into page content (never run experiments)."""
