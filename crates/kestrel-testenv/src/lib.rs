//! The real test environment (work in progress).
