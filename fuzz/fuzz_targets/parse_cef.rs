//! Forces the `cef` parser on arbitrary bytes, whether or not detection would pick it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| irpack_fuzz::parse_forced("cef", data));
