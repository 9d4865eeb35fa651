"""Built-in dataset loaders; importing this package registers them with ``load_dataset``."""

from stvg.data.loaders.hcstvg import load_hcstvg, load_hcstvg2, parse_hcstvg_entry
from stvg.data.loaders.synthetic import load_synthetic
from stvg.data.loaders.vidstg import VidorIndex, load_vidstg

__all__ = [
    "VidorIndex",
    "load_hcstvg",
    "load_hcstvg2",
    "load_synthetic",
    "load_vidstg",
    "parse_hcstvg_entry",
]
