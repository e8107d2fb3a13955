"""``python -m tasks_service.cli``."""

from tasks_service.cli.main import main

main()
