"""Adapters that put an assay project into other tools (Airflow, ...).

They sit on top of the core: the core never imports them, and each imports its tool
(apache-airflow, ...) only when it is used, so a missing extra fails with the command that
installs it instead of at `import assay`.
"""
