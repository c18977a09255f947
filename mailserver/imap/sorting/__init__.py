"""SORT and THREAD (RFC 5256, RFC 5957): sort keys, base subjects and the threading
algorithms, apart from the commands that use them so each can be tested alone."""
