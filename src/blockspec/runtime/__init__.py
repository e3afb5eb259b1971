"""The runtime: plain `torch.nn` modules built from the numbers in `runtime.config`.

Nothing here parses text or imports `blockspec.compiler`.
"""
