//! Falco-syntax rules (work in progress).
