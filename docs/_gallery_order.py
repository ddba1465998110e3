"""The order of the gallery's examples: from the first steps to the specialised tasks."""

ORDER = (
    "plot_quickstart.py",
    "plot_pipeline_probe.py",
    "plot_grid_search.py",
    "plot_finetuning.py",
    "plot_label_efficiency_noise.py",
    "plot_lead_subsets.py",
    "plot_load_wfdb_folder.py",
    "plot_cli_embed.py",
    "plot_save_load.py",
)


class GalleryOrder:
    """sphinx-gallery sort key: the files in ``ORDER`` first, in that order, then the others."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        rank = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return rank, filename

    def __repr__(self) -> str:  # sphinx-gallery keys its cache on the repr
        return f"{type(self).__name__}()"
