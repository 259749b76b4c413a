"""Entry point: ``python -m lambda_widget.runtime [options]`` inside an environment."""

from lambda_widget.runtime.bootstrap import main

main()
