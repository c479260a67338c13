"""raydeploy: bare Linux servers to a production Ray cluster with monitoring, safely."""

__version__ = "0.1.0"
