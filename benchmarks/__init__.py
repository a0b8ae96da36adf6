"""Side-by-side benchmarks of functrace against PyTorch and JAX (when installed)."""
