"""Turn a public dataset's own labels into ``annotations.jsonl`` for ``dybench build`` (DESIGN.md data flow).

Each importer reads one dataset's label format, writes ``annotations.jsonl``, ``videos/`` (links to the
source clips, or clips encoded from frames) and ``import_report.json`` into its output folder and nothing
anywhere else, and counts every record it skips by reason. The rules and their limits are in
``data_cards/importers.md``; :data:`SOURCE_DATASETS` names each source's licence for the dataset card.
"""

from dybench.pairs.importers._common import ImportReport, print_report
from dybench.pairs.importers._segment_files import LEVELS, SEGMENT_FORMATS
from dybench.pairs.importers._segments import import_segments
from dybench.pairs.importers._sources import SOURCE_DATASETS, SourceDataset
from dybench.pairs.importers._ssv2 import import_ssv2, load_templates
from dybench.pairs.importers._tracks import import_tracks

__all__ = [
    "LEVELS",
    "SEGMENT_FORMATS",
    "SOURCE_DATASETS",
    "ImportReport",
    "SourceDataset",
    "import_segments",
    "import_ssv2",
    "import_tracks",
    "load_templates",
    "print_report",
]
