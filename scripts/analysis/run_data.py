"""One MD run as the analysis tools see it: an extras trajectory (dipoles, e·Bohr as i-PI writes them) matched
frame by frame with the properties file (temperature, volume or cell, time), all converted to SI once here.

Matching: by the `step` column of the properties file and the `Step:` of the extras headers (the same number
in i-PI 3.3.0); every extras frame needs a properties row with its step (strides may differ as long as the
properties are written at least as often). Without a `step` column the two files must have the same number of
frames. The equilibration skip drops the first `skip` matched frames.
"""

import numpy as np

from cli import AnalysisError, positive
import ipi_files
import units


def add_arguments(parser, key="dipole"):
    """The options every run-reading tool shares."""
    g = parser.add_argument_group("MD run (i-PI output files)")
    g.add_argument("--dipoles", required=True, metavar="FILE",
                   help="i-PI extras trajectory (<trajectory extra_type='%s'> extras </trajectory>), e·Bohr" % key)
    g.add_argument("--properties", metavar="FILE",
                   help="i-PI properties file with step and temperature (and volume, cell_h or cell_abcABC, time)")
    g.add_argument("--temperature", type=float, metavar="K",
                   help="temperature in K (default: mean of the properties' temperature column over the used frames;"
                        " give the thermostat's target for the canonical-ensemble formula)")
    g.add_argument("--volume", type=float, metavar="A3", help="cell volume in Å^3 (default: from the properties)")
    g.add_argument("--cell-from", metavar="XYZ",
                   help="take the (fixed, NVT) cell volume from this i-PI xyz file, e.g. init.xyz")
    g.add_argument("--skip", type=int, default=0, metavar="N",
                   help="equilibration: drop the first N frames (default 0)")


class Run:
    """steps (n,), dipoles (n, 3) or (n, k, 3) C·m, temperature (n,) K, volume (n,) m^3, time (n,) s or None."""

    def __init__(self, steps, dipoles, temperature, volume, time):
        self.steps, self.dipoles, self.temperature, self.volume, self.time = steps, dipoles, temperature, volume, time

    def __len__(self):
        return len(self.steps)

    def timestep(self, dt_fs=None):
        """Time between consecutive frames, s: --dt if given, else from the properties' time column (must be
        uniform to 1e-6 relative)."""
        if dt_fs is not None:
            return positive(dt_fs, "--dt") * 1e-15
        if self.time is None:
            raise AnalysisError("no time column in the properties file (or no properties file): give --dt")
        d = np.diff(self.time)
        if d.size == 0:
            raise AnalysisError("one frame only: no time step")
        if np.any(d <= 0) or np.ptp(d) > 1e-6 * abs(np.mean(d)):
            raise AnalysisError("frames are not evenly spaced in time (steps %s...): restarted or mixed strides?"
                                % self.steps[:3])
        return float(np.mean(d))


def load(args, key="dipole", need_temperature=True):
    """Run from the options of add_arguments."""
    return load_files(args.dipoles, properties=args.properties, temperature=args.temperature, volume_a3=args.volume,
                      cell_from=args.cell_from, skip=args.skip, key=key, need_temperature=need_temperature)


def load_files(dipoles, properties=None, temperature=None, volume_a3=None, cell_from=None, skip=0, key="dipole",
               need_temperature=True):
    """Run from file names; with need_temperature=False a run without temperature has temperature None."""
    steps, values, _ = ipi_files.read_extras(dipoles, key)
    if values.shape[-1] != 3:
        raise AnalysisError("%s: '%s' rows have %d numbers, expected 3 (x, y, z)" % (dipoles, key, values.shape[-1]))
    n = len(steps)
    rows = None
    props = None
    if properties is not None:
        props = ipi_files.Properties(properties)
        if props.has("step"):
            index = {int(round(s)): i for i, s in enumerate(props.get("step"))}
            missing = [s for s in steps if s not in index]
            if missing:
                raise AnalysisError("%s: no row for step %d of %s (%d extras steps missing)"
                                    % (properties, missing[0], dipoles, len(missing)))
            rows = np.array([index[s] for s in steps])
        else:
            nrows = len(next(iter(props.columns.values()))[0])
            if nrows != n:
                raise AnalysisError("%s: no 'step' column and %d rows for %d extras frames of %s: cannot match them"
                                    % (properties, nrows, n, dipoles))
            rows = np.arange(n)

    if temperature is not None:
        temp = np.full(n, positive(temperature, "--temperature"), dtype=float)
    elif props is not None and (need_temperature or props.has("temperature")):
        temp = props.si("temperature", "temperature")[rows]
    elif not need_temperature:
        temp = None
    else:
        raise AnalysisError("no temperature: give --properties (with a temperature column) or --temperature")

    if volume_a3 is not None:
        vol = np.full(n, positive(volume_a3, "--volume") * units.ANGSTROM ** 3)
    elif cell_from is not None:
        _, _, cell = ipi_files.read_ipi_xyz(cell_from)
        vol = np.full(n, abs(np.linalg.det(cell)))
    else:
        v = props.volume_si() if props is not None else None
        if v is None:
            raise AnalysisError("no volume: %s has no volume, cell_h or cell_abcABC column; give --volume or --cell-from"
                                % (properties or "no properties file"))
        vol = v[rows]

    time = props.si("time", "time")[rows] if props is not None and props.has("time") else None
    if skip < 0 or skip > n - 2:
        raise AnalysisError("--skip %d leaves fewer than 2 of the %d frames of %s" % (skip, n, dipoles))
    sl = slice(skip, None)
    if temp is not None:
        temp = positive(temp[sl], "temperature (%s)" % (properties if temperature is None else "--temperature"))
    vol = positive(vol[sl], "volume (%s)" % ("--volume" if volume_a3 is not None else cell_from or properties))
    return Run(steps[sl], units.e_bohr_to_si(values[sl]), temp, vol, None if time is None else time[sl])
