"""The discrete-event simulator: every scheduling strategy on one seeded workload
(``compare``), and placement quality against the exact optimum (``quality``)."""
