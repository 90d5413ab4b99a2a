//! Integration tests for cordon-core, as one binary so the linker runs once.
mod suite;
