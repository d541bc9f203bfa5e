//! Session management for graph engines: server registry, client lifecycle, cluster sync (issues 5-7; not
//! built yet).
