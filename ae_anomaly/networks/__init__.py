"""Network kinds (each one module: build from settings, forward, loss) and the one trainer."""
