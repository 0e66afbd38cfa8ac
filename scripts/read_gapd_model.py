#!/usr/bin/env python3
"""Read a gapd native model file (docs/model_format.md) with the standard library and numpy only.

As a module:   model = read_gapd_model("model.gapd"); model_sha256_16("model.gapd") = the id the model card,
               md_pool.py and the [111] well record name a model file by (first 16 hex digits of its sha256)
As a script:   python3 scripts/read_gapd_model.py MODEL    (prints a summary)

The returned dict has:
  format_version      int
  header              the JSON header as parsed (everything, including sections this script ignores)
  description, soap, zeta, species (None if the file holds only a dipole model)
  self_contributions  {Z: eV}
  sparse              {Z: {"points": (M, D) float64 array, "weights": (M,) float64 array}}
  selected_features   None, or the sorted indices of the power-spectrum components the model uses, in the
                      *compressed* layout (docs/model_format.md, docs/feature_selection.md); the points above
                      stay in the full layout, with zeros outside the selection
  selected_feature_scales  None, or one factor per selected feature, applied before the normalization
                      (models read from librascal's coefficient_subselection, docs/feature_selection.md)
  dipole              None, or the SA-GPR dipole model: {"soap", "kernel", "zeta", "inversion_symmetry",
                      "baseline": {Z: (3,)}, "cell_roles", "sparse": {Z: {"points": (M, 3Q), "weights": (M, 3)
                      [, "scalar_points": (M, D)]}}} (e·Å weights; Cartesian lambda=1 layout, docs/dipoles.md)
  arrays              {name: array} for every array in the directory
Every array's CRC32 is checked; errors raise ValueError naming the file and the problem.
"""

import hashlib
import json
import struct
import sys
import zlib

import numpy as np

MAGIC = b"GAPDMODL"
SUPPORTED_VERSION = 1
KNOWN_FEATURES = {"feature_selection", "feature_scales"}  # header required_features this reader understands
PREFIX = struct.Struct("<8sIQI")  # magic, format version, header length, header CRC32 (24 bytes)


def model_sha256_16(path):
    """The first 16 hex digits of the file's sha256, read in 1 MB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def power_spectrum_size(soap):
    nspecies = len(soap["species"])
    return nspecies * (nspecies + 1) // 2 * soap["max_radial"] ** 2 * (soap["max_angular"] + 1)


def read_gapd_model(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < PREFIX.size:
        raise ValueError(f"{path}: truncated: shorter than the {PREFIX.size}-byte prefix")
    magic, version, header_size, header_crc = PREFIX.unpack_from(data, 0)
    if magic != MAGIC:
        raise ValueError(f"{path}: not a gapd native model file (bad magic bytes)")
    if version > SUPPORTED_VERSION or version == 0:
        raise ValueError(f"{path}: model format version {version} is not supported (this script reads version 1)")
    header_bytes = data[PREFIX.size:PREFIX.size + header_size]
    if len(header_bytes) != header_size:
        raise ValueError(f"{path}: truncated header")
    if zlib.crc32(header_bytes) != header_crc:
        raise ValueError(f"{path}: header checksum mismatch (file corrupted)")
    header = json.loads(header_bytes.decode("utf-8"))

    arrays = {}
    for entry in header["arrays"]:
        name, offset, nbytes = entry["name"], entry["offset"], entry["nbytes"]
        if offset + nbytes > len(data):
            raise ValueError(f"{path}: truncated: array '{name}' ends at byte {offset + nbytes}, file has {len(data)}")
        raw = data[offset:offset + nbytes]
        if zlib.crc32(raw) != entry["crc32"]:
            raise ValueError(f"{path}: array '{name}': checksum mismatch (file corrupted)")
        dtype = np.dtype(entry["dtype"])
        count = int(np.prod(entry["shape"], dtype=np.int64))
        if count * dtype.itemsize != nbytes:
            raise ValueError(f"{path}: array '{name}': nbytes does not match its shape and dtype")
        arrays[name] = np.frombuffer(raw, dtype=dtype, count=count).reshape(entry["shape"])

    unknown = [f for f in header.get("required_features", []) if f not in KNOWN_FEATURES]
    if unknown:
        raise ValueError(f"{path}: header field 'required_features': this reader does not support {unknown}")
    model = {"format_version": version, "header": header, "description": header.get("description", ""),
             "soap": None, "zeta": None, "species": None, "self_contributions": {}, "sparse": {}, "dipole": None,
             "selected_features": None, "selected_feature_scales": None, "arrays": arrays}
    if "potential" in header:
        soap = header["soap"]
        potential = header["potential"]
        dim = power_spectrum_size(soap)
        for s in potential["sparse_sets"]:
            points, weights = arrays[s["points"]], arrays[s["weights"]]
            if points.shape != (weights.shape[0], dim):
                raise ValueError(f"{path}: array '{s['points']}' has shape {points.shape}, expected (M, {dim})")
            model["sparse"][s["species"]] = {"points": points, "weights": weights}
        if "selected_features" in potential:
            selected = [int(i) for i in potential["selected_features"]]
            if selected != sorted(set(selected)) or not all(0 <= i < dim for i in selected):
                raise ValueError(f"{path}: potential.selected_features: not sorted unique indices below {dim}")
            model["selected_features"] = selected
        if "selected_feature_scales" in potential:
            scales = np.array(potential["selected_feature_scales"], dtype=float)
            if model["selected_features"] is None or scales.shape != (len(model["selected_features"]),) \
                    or not np.all(scales > 0):
                raise ValueError(f"{path}: potential.selected_feature_scales: not one positive number per "
                                 "selected feature")
            model["selected_feature_scales"] = scales
        model.update(soap=soap, zeta=potential["zeta"], species=soap["species"],
                     self_contributions=dict(sorted((int(z), e) for z, e in potential["self_contributions"].items())))
    if "dipole" in header:
        d = header["dipole"]
        sparse = {}
        for s in d["sparse_sets"]:
            entry = {"points": arrays[s["points"]], "weights": arrays[s["weights"]]}
            if entry["weights"].shape != (entry["points"].shape[0], 3):
                raise ValueError(f"{path}: array '{s['weights']}' has shape {entry['weights'].shape}, expected (M, 3)")
            if "scalar_points" in s:
                entry["scalar_points"] = arrays[s["scalar_points"]]
            sparse[s["species"]] = entry
        model["dipole"] = {"soap": d["soap"], "kernel": d["kernel"], "zeta": d["zeta"],
                           "inversion_symmetry": d["inversion_symmetry"],
                           "baseline": {int(z): np.array(v) for z, v in d["baseline"].items()},
                           "cell_roles": d["cell_roles"], "sparse": sparse}
    return model


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} MODEL", file=sys.stderr)
        return 2
    try:
        model = read_gapd_model(argv[1])
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"gapd model format version {model['format_version']}: {argv[1]}")
    print(f"  description: {model['description']}")
    if model["soap"] is None:
        print("  no GAP (dipole model only)")
    else:
        print_gap(model)
    if model["dipole"] is not None:
        d = model["dipole"]
        print(f"  dipole model: {d['kernel']} kernel, nmax {d['soap']['max_radial']}, lmax {d['soap']['max_angular']}, "
              f"rc {d['soap']['cutoff_function']['cutoff']} A, cell roles {d['cell_roles']}")
        for z, s in d["sparse"].items():
            print(f"  dipole species {z}: {s['points'].shape[0]} sparse points x {s['points'].shape[1]} features")
    return 0


def print_gap(model):
    soap = model["soap"]
    cutoff = soap["cutoff_function"]
    print(f"  SOAP: nmax {soap['max_radial']}, lmax {soap['max_angular']}, sigma {soap['gaussian_sigma']} A, "
          f"cutoff {cutoff['type']} rc {cutoff['cutoff']} A (smooth width {cutoff['smooth_width']} A), "
          f"normalize {soap['normalize']}, librascal spline accuracy {soap['librascal_spline_accuracy']}")
    selected = model["selected_features"]
    used = "" if selected is None else f" ({len(selected)} selected)"
    print(f"  species {model['species']}, {power_spectrum_size(soap)} features{used}, zeta {model['zeta']}")
    print(f"  self contributions (eV): {model['self_contributions']}")
    for z, s in model["sparse"].items():
        print(f"  species {z}: {s['points'].shape[0]} sparse points, "
              f"weights sum {s['weights'].sum():.10g}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
