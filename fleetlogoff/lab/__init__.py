"""The lab: a simulated fleet of Windows RDS hosts that speaks real WinRM.

It imports nothing from the rest of fleetlogoff; the tool imports it only where
`fleetlogoff lab` and the demo start it. Tests use both.
"""
