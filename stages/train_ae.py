"""Stage ``train_ae``: fit the network (``train_ae.network``) on normal training curves, with
per-epoch histories."""

from collections.abc import Sequence

from ae_anomaly.core.storage import load_dataset, save_arrays, save_columns, save_dataset, save_json
from ae_anomaly.core.types import NORMAL, Dataset
from ae_anomaly.networks.checkpoint import save_network
from ae_anomaly.networks.training import train_network
from ae_anomaly.pipeline.background import background_work
from ae_anomaly.pipeline.runtime import load_stage_params, parse_stage_args, run_stage
from ae_anomaly.pipeline.timings import timed
from ae_anomaly.pipeline.wiring import autoencoder_fit
from ae_anomaly.report.figures import epochs_to_plot, save_error_boxplots, training_figures


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_stage_args(
        __doc__,
        ["train", "test", "model", "holdout", "test_errors", "loss", "summary", "boxplots",
         "figures"],
        argv,
    )  # fmt: skip
    params = load_stage_params(args.params)
    train, test = load_dataset(args.train), load_dataset(args.test)
    fit = autoencoder_fit(params, train, test, params.train_ae.device)
    history = train_network(*fit.arguments(), trainer=fit.trainer)
    model, holdout_rows, device = fit.model, fit.holdout_rows, fit.device
    normal = train.normal

    save_network(args.model, model)
    # The held-out curves as they came (not normalised): whoever reads them applies the model.
    save_dataset(
        args.holdout, Dataset(normal[holdout_rows], train.y[train.y == NORMAL][holdout_rows])
    )
    errors = history.monitor_errors_array()
    save_arrays(args.test_errors, {"errors": errors, "y": test.y})
    epochs = list(range(1, history.epochs_run + 1))
    save_columns(
        args.loss,
        {"epoch": epochs, "train_loss": history.train_loss, "holdout_loss": history.holdout_loss},
    )
    save_json(
        args.summary,
        history.summary(device=str(device), n_train=len(fit.fit_x), n_holdout=len(holdout_rows)),
    )
    plotted = epochs_to_plot(history.epochs_run, params.train_ae.boxplot_every_n_epochs)
    # Each image stands alone: a second process (where the thread share allows) draws the
    # later half while this one draws the rest.
    with timed("figures"), background_work() as background:
        later = background.submit(
            "boxplots in a second process",
            save_error_boxplots,
            errors,
            test.y,
            plotted[len(plotted) // 2 :],
            args.boxplots,
        )
        save_error_boxplots(errors, test.y, plotted[: len(plotted) // 2], args.boxplots)
        training_figures(args.figures, history.train_loss, history.holdout_loss, errors, test.y)
        later.result()


if __name__ == "__main__":
    run_stage(main)
