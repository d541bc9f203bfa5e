//! Structure-aware fuzz targets (issue 9; not built yet).
