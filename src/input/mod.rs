//! Keyboard and mouse input, independent of any window: the key table ([`keymap`]) and the inputs channel's
//! motion flow control ([`motion`]) and the headless scripts ([`script`]). Pure: no I/O, no clocks.

pub mod keymap;
pub mod motion;
pub mod script;
