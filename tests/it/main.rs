//! it

mod pins;
