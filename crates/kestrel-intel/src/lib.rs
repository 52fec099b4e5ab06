//! Threat-intelligence feeds (work in progress).
