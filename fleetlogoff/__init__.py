"""fleetlogoff: log users off Windows RDS hosts across a fleet, safely, over WinRM."""

__version__ = "0.1.0"
