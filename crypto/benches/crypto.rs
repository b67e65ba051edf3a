//! Criterion benchmarks of parley-crypto against vodozemac (filled in by the benchmark work).
fn main() {}
