"""DVC stage scripts. dvc.yaml runs each as ``python -m stages.<name>`` from the directory DVC
executes in, so the ``ae_anomaly`` package is imported from that same copy of the project
(a queued experiment's temporary copy included), never from another checkout."""
