"""Scale-out: one run over several processes (``--processes``) or several workers
sharing a Redis frontier."""
