"""ARL packed meteorology files (the format HYSPLIT and STILT read): read, write, describe.

Layout, packing and naming: docs/physics.md §2.1-§2.4. The work is done in modules by
concern; this module gathers their public names:

- :mod:`stilt.met.arl_format`: the byte layout (labels, header fields, vertical systems, units);
- :mod:`stilt.met.arl_index`: the index records of a file (:class:`ArlInventory`);
- :mod:`stilt.met.arl_read`: :func:`read_arl`, a window of records into the met Dataset layout
  shared by the whole package (dims ``time``, ``level``, ``y``, ``x``; see ``docs/met.md``),
  and :func:`read_arl_arrays`, the same decoded fields as plain arrays;
- :mod:`stilt.met.arl_write`: :func:`write_arl` and :func:`met_dataset`;
- :mod:`stilt.met.arl_check`: :func:`describe_arl` and :func:`check_arl_values`.
"""

from __future__ import annotations

from stilt.met.arl_check import check_arl_values, describe_arl, verify_arl
from stilt.met.arl_format import (
    FIXED_HEADER_LEN,
    GRID_PARAMETERS,
    LABEL_LEN,
    VERTICAL_SYSTEMS,
    variable_attrs,
)
from stilt.met.arl_index import ArlInventory, arl_inventory, arl_times
from stilt.met.arl_read import ArlArrays, read_arl, read_arl_arrays
from stilt.met.arl_write import met_dataset, write_arl

__all__ = ["FIXED_HEADER_LEN", "GRID_PARAMETERS", "LABEL_LEN", "VERTICAL_SYSTEMS", "ArlArrays",
           "ArlInventory", "arl_inventory", "arl_times", "check_arl_values", "describe_arl",
           "met_dataset", "read_arl", "read_arl_arrays", "variable_attrs", "verify_arl",
           "write_arl"]
