//! Benchmarks live in benches/; run them with `make bench`.
