"""Turn a complete params file (a preset) into ``dvc exp run`` overrides.

``dvc exp run`` changes parameters one ``-S key=value`` at a time; a preset such as
``presets/article.yaml`` is a whole validated params file. This prints the overrides for every
key, so ``dvc exp run -n article $(python -m ae_anomaly.presets presets/article.yaml)`` runs
the preset as an experiment without touching the user's ``params.yaml``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ae_anomaly.params import ParamsError, flatten, load_params


def override_arguments(preset: str | Path) -> list[str]:
    """``["-S", "train_ae.epochs=100", ...]`` with values in compact YAML (no spaces)."""
    arguments = []
    for key, value in flatten(load_params(preset)).items():
        arguments += ["-S", f"{key}={json.dumps(value, separators=(',', ':'))}"]
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("preset", help="a complete params file, e.g. presets/article.yaml")
    args = parser.parse_args(argv)
    try:
        print(" ".join(override_arguments(args.preset)))
    except ParamsError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
