"""The review pages: the queue, a piece, a batch of pieces, unattributed welds."""
