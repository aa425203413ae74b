"""The PostgreSQL baseline: the original bot's schema and queries on the machine's own
server (:mod:`benchmarks.pg.baseline`), and what moves its figures (:mod:`benchmarks.pg.calibrate`)."""
