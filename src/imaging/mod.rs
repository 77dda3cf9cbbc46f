//! Medical image I/O and processing. Readers and writers turn files into
//! [`crate::core::volume::Volume`]s and back.

pub mod nifti;
