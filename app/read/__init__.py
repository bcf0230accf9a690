"""The read side: what pages and the read API show, as plain values. Nothing here writes."""
