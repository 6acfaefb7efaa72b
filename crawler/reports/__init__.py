"""Reading the evidence back: tables of citations and captures, and snapshots."""
