"""Write-side persistence: tables, repositories, the unit of work and the event log."""
