// Benchmark driver for bench/ scripts (not installed for users). See bench/README.md.
print("flocker-bench: no benchmarks yet")
