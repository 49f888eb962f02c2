"""Running a project unattended: the scheduler and its sensors, SLAs, alerts and the runbook.

A workflow-tier room beside pipelines/: it runs datasets through `Project.run` (the project
lock, retries, the interval ledger) and never writes tables itself.
"""
