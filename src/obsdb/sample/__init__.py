"""A deterministic, realistic sample archive in every record shape of the Observer's history.

``obsdb sample`` and the tests use it: a loader must be tried on all the shapes, layouts and
faults of the spec (docs: archive formats), and real archives cannot be shipped.
"""

from obsdb.sample.archive import SampleManifest, write_sample_archive

__all__ = ["SampleManifest", "write_sample_archive"]
