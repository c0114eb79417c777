//! Kernel benchmarks (placeholder until the kernels land).
fn main() {}
