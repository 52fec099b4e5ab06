//! Live listing placeholder being written.
