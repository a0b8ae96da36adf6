"""The jit compiler: cache, jaxpr passes, fusion and the backend registry."""
