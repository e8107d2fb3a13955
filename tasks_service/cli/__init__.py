"""The ``tasks-service`` command line (``tasks_service.cli.main:main``)."""
