"""What every stage script shares: argument parsing, logging set-up and clean failures.

Stage scripts receive every path from ``dvc.yaml`` as an argument; none is hard-coded.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from ae_anomaly.params import Params, ParamsError, load_params

logger = logging.getLogger("ae_anomaly")


def parse_stage_args(
    description: str, paths: Sequence[str], argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """``--params`` plus one required ``--<path>`` option per name in ``paths``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--params", default="params.yaml", help="parameters file (default: %(default)s)"
    )
    for name in paths:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, required=True, metavar="PATH")
    return parser.parse_args(argv)


def configure_logging() -> None:
    """INFO to stderr; ``force`` because importing MLflow's dependencies installs a root handler."""
    logging.basicConfig(
        force=True,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def load_stage_params(path: str) -> Params:
    """Validate the whole parameters file; stages call this before touching any output."""
    return load_params(path)


def run_stage(
    main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None
) -> None:
    """Run a stage's ``main`` and turn a parameter error into a one-message exit code 2."""
    configure_logging()
    try:
        main(argv)
    except ParamsError as error:
        logger.error("%s", error)
        sys.exit(2)
