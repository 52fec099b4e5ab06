//! Alert sinks (work in progress).
