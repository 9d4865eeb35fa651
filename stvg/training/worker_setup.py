"""Ray's ``worker_process_setup_hook`` for the workers of a joined cluster.

Ray starts a cluster's workers in the directory of that node's ``ray start``, not in the
driver's (``stvg train``, ``stvg sweep``). :func:`~stvg.training.workers.init_ray` hands
them the driver's working directory in ``$STVG_DRIVER_CWD`` and this hook, so relative
paths of the run config (dataset roots, checkpoints) mean the same on every node that has
that directory. A module of its own so that the hook imports nothing heavy (every worker
of the job runs it before its first task).
"""

from __future__ import annotations

import logging
import os

#: The driver's working directory, handed to the workers of a joined cluster.
DRIVER_CWD_VAR = "STVG_DRIVER_CWD"

logger = logging.getLogger(__name__)


def enter_driver_cwd() -> None:
    """Change to the driver's working directory (``$STVG_DRIVER_CWD``) if this node has
    it, else stay and warn (relative paths are then read from the current directory)."""
    path = os.environ.get(DRIVER_CWD_VAR)
    if not path:
        return
    if os.path.isdir(path):
        os.chdir(path)
    else:
        logger.warning(
            "the driver's working directory %s does not exist on this node: relative paths "
            "in the run config are read from %s here",
            path,
            os.getcwd(),
        )


__all__ = ["DRIVER_CWD_VAR", "enter_driver_cwd"]
