"""The IR (avals, jaxprs) and tracing machinery."""
